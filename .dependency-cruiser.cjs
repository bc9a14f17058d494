/**
 * The layers of src/, lowest first, as dependency-cruiser rules (ARCHITECTURE.md explains each).
 * A module may import its own folder and any lower layer; never a higher layer, never a peer
 * folder in its own layer; neither folders nor modules import each other in a circle.
 *
 * `npx depcruise src` prints every breach; test/architecture/importGraph.test.ts runs the same
 * check in `npm test` against its list of known breaches.
 *
 * Parsing: TypeScript 7 has no JavaScript compiler API, so dependency-cruiser reads the sources
 * with swc; `tsPreCompilationDeps` keeps type-only imports, which tie layers together as much as
 * value imports do.
 */
const root = (...files) => `^src/(${files.join('|')})\\.ts$`;
const folder = (name) => `^src/${name}/`;

/** Lowest first. Each unit is a regular expression over paths relative to the repository. */
const layers = [
  { name: 'foundation', units: [root('errors', 'errorCatalogue', 'packageRoot'), folder('bson')] },
  { name: 'infrastructure', units: [folder('crypto'), folder('tls'), folder('devserver')] },
  { name: 'config', units: [folder('config')] },
  { name: 'model', units: [folder('metadata')] },
  { name: 'model-derived', units: [folder('schema'), folder('stored')] },
  // The query policy and the analyzer: they decide what a call may do without running it, so
  // they never import the repository that runs their output. One unit: the analyzer reads the table.
  { name: 'query', units: ['^src/repository/(encoding|policy)/'] },
  { name: 'repository', units: ['^src/repository/(?!(encoding|policy)/)'] },
  { name: 'client', units: [folder('client')] },
  { name: 'operations', units: [folder('audit'), folder('keys')] },
  { name: 'migrations', units: [folder('migrations')] },
  { name: 'entry', units: [root('index', 'testing'), folder('entries'), folder('cli')] },
];

const anyOf = (patterns) => patterns.map((p) => `(${p})`).join('|');

const upward = layers.slice(0, -1).map((layer, i) => ({
  name: `upward-from-${layer.name}`,
  comment: `The ${layer.name} layer imports a higher layer (${layers.slice(i + 1).map((l) => l.name).join(', ')}).`,
  severity: 'error',
  from: { path: anyOf(layer.units) },
  to: { path: anyOf(layers.slice(i + 1).flatMap((l) => l.units)) },
}));

const peers = layers.flatMap((layer) => layer.units.length < 2 ? [] : layer.units.map((unit) => ({
  name: `peer-in-${layer.name}`,
  comment: `Folders of the ${layer.name} layer are independent of each other.`,
  severity: 'error',
  from: { path: unit },
  to: { path: anyOf(layer.units.filter((other) => other !== unit)) },
})));

module.exports = {
  forbidden: [
    {
      name: 'folder-cycle',
      comment: 'Folders import each other in a circle.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'module-cycle',
      comment: 'Modules import each other in a circle (type-only imports count): move what both need into a third module.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'folder-without-layer',
      comment: 'A module of src/ sits in a folder no layer names: add the folder to a layer here and in ARCHITECTURE.md.',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf(layers.flatMap((l) => l.units)) },
      to: {},
    },
    ...upward,
    ...peers,
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(?!src/)' },
  },
};
