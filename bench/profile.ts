import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Contender } from './contender';
import { loadDatasets } from './datasets';
import { RawContender } from './impl/raw';
import { StrongboxContender } from './impl/strongbox';
import { strongboxModels } from './models/strongbox';
import { benchServer } from './server';
import { median } from './stats';
import { prepareTask, taskCatalog, type TaskSpec } from './tasks';

/*
 * A development aid, not part of the report: client CPU per operation of a few tasks, the raw
 * driver and Strongbox alternating in many short rounds, so the ratio is stable on a loaded
 * machine. Run it under `node --cpu-prof` to see where Strongbox's share goes:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/profile.js small-find-id 2000 9
 *
 * Arguments: comma-separated task names (an encrypted task runs Strongbox with encrypted models
 * beside Strongbox with plain models on its unencrypted twin), operations per round (finds use at
 * most the task's own count), rounds.
 */
async function main(): Promise<void> {
  const [names = 'small-create,small-find-id,nested-create,enc-small-create', opsText = '500', roundsText = '7'] = process.argv.slice(2);
  const ops = Number(opsText);
  // PROFILE_ONLY=Strongbox (or 'raw') runs one side alone, so a profile shows only its calls.
  const only = process.env.PROFILE_ONLY;
  const rounds = Number(roundsText);
  const datasets = loadDatasets();
  const models = strongboxModels(datasets);
  const server = await benchServer();
  const keyDir = mkdtempSync(join(tmpdir(), 'strongbox-profile-'));
  const keyFile = join(keyDir, 'master.key');
  writeFileSync(keyFile, randomBytes(96).toString('base64'), { mode: 0o600 });
  const contenders: Contender[] = [];
  try {
    const raw = await RawContender.connect(server.uri);
    contenders.push(raw);
    const plain = await StrongboxContender.connect({ key: 'strongbox', label: 'Strongbox', uri: server.uri, keyFile, keyVaultNamespace: 'odm_profile_keys.plain', models: { small: models.small, large: models.large, nested: models.nested } });
    contenders.push(plain);
    const encrypted = await StrongboxContender.connect({ key: 'strongbox', label: 'Strongbox (encrypted)', uri: server.uri, keyFile, keyVaultNamespace: 'odm_profile_keys.enc', models: { encSmall: models.encSmall, encLarge: models.encLarge, encNested: models.encNested } });
    contenders.push(encrypted);
    const catalog = [...taskCatalog(datasets, false, server.kind, false), ...taskCatalog(datasets, true, server.kind, false)];
    for (const name of names.split(',')) {
      const found = catalog.find((t) => t.name === name);
      if (!found) throw new Error(`no task ${name}`);
      const task: TaskSpec = { ...found, count: found.op === 'create' ? ops : Math.min(ops, found.count) };
      // An encrypted task alternates with its unencrypted twin on plain models, as the enc-small-create target compares them.
      const twin = task.encrypted ? catalog.find((t) => t.name === name.replace(/^enc-/, '')) : undefined;
      const pairs: Array<[Contender, TaskSpec]> = (twin ? [[plain, { ...twin, count: task.count }], [encrypted, task]] as Array<[Contender, TaskSpec]> : [[raw, task], [plain, task]] as Array<[Contender, TaskSpec]>)
        .filter(([c]) => !only || c.label.startsWith(only));
      const sides = pairs.map(([c]) => c);
      const cpu = sides.map(() => [] as number[]);
      const user = sides.map(() => [] as number[]);
      const runs = await Promise.all(pairs.map(([c, spec]) => prepareTask(spec, c, datasets)));
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < sides.length; k++) {
          const i = (round + k) % sides.length;
          await runs[i].before();
          const cpu0 = process.cpuUsage();
          await runs[i].run(round);
          const used = process.cpuUsage(cpu0);
          cpu[i].push((used.user + used.system) / task.count);
          user[i].push(used.user / task.count);
        }
      }
      for (const run of runs) await run.teardown();
      const medians = cpu.map(median);
      const users = user.map(median);
      // The two sides of one round ran back to back, under the same load: the median of their
      // ratios moves less with the machine than the ratio of the two medians.
      const paired = medians.length === 2 ? `, per round ${median(cpu[1].map((c, r) => c / cpu[0][r])).toFixed(3)}` : '';
      console.log(`${name.padEnd(18)} ${sides.map((c, i) => `${c.label} ${medians[i].toFixed(1)} µs (user ${users[i].toFixed(1)})`).join('  ')}${medians.length === 2 ? `  ratio ${(medians[1] / medians[0]).toFixed(3)} (user ${(users[1] / users[0]).toFixed(3)}${paired})` : ''}`);
    }
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
    rmSync(keyDir, { recursive: true, force: true });
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
