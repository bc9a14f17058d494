/*
 * save() and remove() take entities of the repository's model, and the entity decorators
 * compile where they belong. Compiled with the rest of the tests: a wrong type is a build error.
 */
import type { Repository } from '../../src/repository/repository';
import { AfterLoad, BeforeInsert, CreatedAt, Field, Id, Model, UpdatedAt, Variant, Version } from '../../src/metadata';
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

@Model({ db: 'types', collection: 'shapes', discriminator: 'kind' })
class Shape { @Id() _id!: string; @Field() kind!: string; }
@Variant('circle')
class Circle extends Shape { @Field() radius!: number; }

export async function variants(shapes: Repository<Shape>, circles: Repository<Circle>): Promise<void> {
  const circle: Circle | null = await circles.findOne({ radius: { $gt: 1 } });
  await circles.save(circle!);
  await shapes.save(circle!);
  // @ts-expect-error a variant's field through the base repository: query it through the variant's
  await shapes.findOne({ radius: 1 });
  // @ts-expect-error the base class is not the variant
  await circles.save(new Shape());
}
