/*
 * Brands and decorators agree: a property typed Deterministic<T> or Random<T> is encrypted, so
 * @Field (which stores it in the clear) does not compile there, nor do @Embedded,
 * @EmbeddedArray and @ArrayField on Deterministic ones (Deterministic cannot encrypt documents
 * or arrays). On Random ones they describe what @Encrypted encrypts whole. Checked by tsc.
 */
import { ArrayField, Embedded, EmbeddedArray, Encrypted, Field, type Deterministic, type Random } from '../../src/metadata';

class Line {
  @Field() text!: string;
}

export class Branded {
  // @ts-expect-error @Field on a Random property would store it in plaintext
  @Field() a!: Random<string>;
  // @ts-expect-error @Field on a Deterministic property would store it in plaintext
  @Field({ bsonType: 'string' }) b!: Deterministic<string>;
  // @ts-expect-error optional properties too
  @Field({ optional: true }) c?: Random<number>;
  // @ts-expect-error Deterministic cannot encrypt a document
  @Encrypted({ algorithm: 'Deterministic', keyAltName: 'k' }) @Embedded(() => Line) d!: Deterministic<Line>;
  // @ts-expect-error Deterministic cannot encrypt an array of documents
  @Encrypted({ algorithm: 'Deterministic', keyAltName: 'k' }) @EmbeddedArray(() => Line) e!: Deterministic<Line[]>;
  // @ts-expect-error Deterministic cannot encrypt an array
  @Encrypted({ algorithm: 'Deterministic', keyAltName: 'k' }) @ArrayField({ of: 'string' }) f!: Deterministic<string[]>;
}

export class Accepted {
  @Field() name!: string;
  @Field({ optional: true }) note?: string;
  @Field({ bsonType: 'long' }) count!: bigint;
  @Embedded(() => Line) line!: Line;
  @EmbeddedArray(() => Line) lines!: Line[];
  @ArrayField({ of: 'string' }) tags!: string[];
  @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @Embedded(() => Line) secretLine!: Random<Line>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @EmbeddedArray(() => Line) secretLines!: Random<Line[]>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @ArrayField({ of: 'string' }) secretTags!: Random<string[]>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) code!: Deterministic<string>;
  // Private properties are outside keyof, so their type cannot be checked: accepted.
  @Field() private internal!: string;
  read(): string { return this.internal; }
}
