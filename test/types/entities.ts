/*
 * save() and remove() take entities of the repository's model, and the entity decorators
 * compile where they belong. Compiled with the rest of the tests: a wrong type is a build error.
 */
import type { Repository } from '../../src/repository/repository';
import { AfterLoad, BeforeInsert, CreatedAt, Field, Id, Model, UpdatedAt, Version } from '../../src/metadata';
import type { Person } from './model';

@Model({ db: 'types', collection: 'notes' })
class Note {
  @Id() _id!: string;
  @Field({ default: () => 'untitled' }) title!: string;
  @CreatedAt() createdAt!: Date;
  @UpdatedAt() updatedAt!: Date;
  @Version() version!: number;
  @BeforeInsert() trim(): void { this.title = this.title.trim(); }
  @AfterLoad() async loaded(): Promise<void> { /* hooks may be async */ }
}

export async function entities(people: Repository<Person>, notes: Repository<Note>): Promise<void> {
  const person = (await people.findOne({ name: 'Ada' }))!;
  const saved: Person = await people.save(person);
  await people.remove(saved);
  const note: Note = await notes.save(new Note());
  await notes.remove(note);

  // @ts-expect-error an entity of another model
  await people.save(note);
  // @ts-expect-error remove takes an entity, not a filter
  await notes.remove({ _id: 'x' });
  // @ts-expect-error a default is a function, not a shared value
  class BadDefault { @Field({ default: [] }) tags!: string[]; }
  void BadDefault;
}
