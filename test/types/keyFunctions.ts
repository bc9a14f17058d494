/*
 * A key function (`keyAltName: (doc) => string`, on @Model or @Encrypted) is typed by the model:
 * the document type it declares must fit the decorated class, so a function reading a field the
 * model does not have, or has with another type, does not compile. Checked by tsc.
 */
import { Encrypted, Field, Model, type Random } from '../../src/metadata';
import type { Plain } from '../../src/repository/types';

export class PerTenant {
  @Field() tenant!: string;
  @Field() region!: 'eu' | 'us';
  @Encrypted({ algorithm: 'Random', keyAltName: (doc: { tenant: string }) => `tenant-${doc.tenant}` }) note!: Random<string>;
  @Encrypted({ algorithm: 'Random', keyAltName: (doc: Plain<PerTenant>) => `${doc.region}-${doc.tenant}` }) memo!: Random<string>;
  // A function that ignores the document fits any model.
  @Encrypted({ algorithm: 'Random', keyAltName: () => 'shared' }) other!: Random<string>;
  // @ts-expect-error the model has no `customer` field
  @Encrypted({ algorithm: 'Random', keyAltName: (doc: { customer: string }) => doc.customer }) wrongField!: Random<string>;
  // @ts-expect-error `tenant` is a string, not a number
  @Encrypted({ algorithm: 'Random', keyAltName: (doc: { tenant: number }) => String(doc.tenant) }) wrongType!: Random<string>;
  // @ts-expect-error an unannotated parameter is `unknown`: name the document type to read its fields
  @Encrypted({ algorithm: 'Random', keyAltName: (doc) => doc.tenant }) unannotated!: Random<string>;
}

@Model({ db: 'types', collection: 'byTenant', keyAltName: (doc: { tenant: string }) => `tenant-${doc.tenant}` })
export class ModelKeyFunction {
  @Field() tenant!: string;
  @Encrypted({ algorithm: 'Random' }) secret!: Random<string>;
}

// @ts-expect-error the model's instances have no `customer` field
@Model({ db: 'types', collection: 'wrongModelKey', keyAltName: (doc: { customer: string }) => doc.customer })
export class WrongModelKeyFunction {
  @Field() tenant!: string;
}

// A fixed alt name, and a class whose constructor takes arguments, are unaffected.
@Model({ db: 'types', collection: 'fixed', keyAltName: 'fixed' })
export class FixedKey {
  @Field() name: string;
  constructor(name: string) { this.name = name; }
}
