import type { ObjectId } from 'mongodb';
import type { Ref } from '../../src/metadata/ref';
import type { Repository } from '../../src/repository/repository';
import type { Filter } from '../../src/repository/types';
import { expectType, type Equal, type Person } from './model';

class Team {
  _id!: ObjectId;
  name!: string;
  lead!: Ref<Person>;
  deputy?: Ref<Person>;
}

export async function populateTypes(teams: Repository<Team>): Promise<void> {
  const all = await teams.find({ lead: {} as ObjectId }).toArray();
  const withLead = await teams.populate(all, ['lead']);
  expectType<Equal<(typeof withLead)[number]['lead'], Person | null>>();
  expectType<Equal<(typeof withLead)[number]['deputy'], Ref<Person> | undefined>>();
  const both = await teams.populate(all, ['lead', 'deputy']);
  expectType<Equal<(typeof both)[number]['deputy'], Person | null | undefined>>();
  // @ts-expect-error name is not a reference
  await teams.populate(all, ['name']);
  const ok: Filter<Team> = { lead: { $in: [] as ObjectId[] } };
  void ok;
}

class Line {
  quantity!: number;
  product!: Ref<Person>;
}
class Site {
  city!: string;
  manager!: Ref<Person>;
  lines!: Line[];
}
class Project {
  _id!: ObjectId;
  site!: Site;
  backup?: Site;
  lines!: Line[];
}

export async function nestedPopulateTypes(projects: Repository<Project>): Promise<void> {
  const all = await projects.find({}).toArray();
  const loaded = await projects.populate(all, ['site.manager', 'lines.product', 'backup.lines.product']);
  expectType<Equal<(typeof loaded)[number]['site']['manager'], Person | null>>();
  expectType<Equal<(typeof loaded)[number]['site']['city'], string>>();
  expectType<Equal<(typeof loaded)[number]['lines'][number]['product'], Person | null>>();
  expectType<Equal<NonNullable<(typeof loaded)[number]['backup']>['lines'][number]['product'], Person | null>>();
  expectType<Equal<(typeof loaded)[number]['site']['lines'][number]['product'], Ref<Person>>>();
  // @ts-expect-error city is not a reference
  await projects.populate(all, ['site.city']);
  // @ts-expect-error no such path
  await projects.populate(all, ['site.nope']);
}
