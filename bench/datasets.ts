import { BSON, type Document, type ObjectId } from 'mongodb';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Where the ODM benchmark archives live (shared/odm-bench next to the repository), unless ODM_BENCH_DATA says otherwise. */
export const DEFAULT_DATA_DIR = join(__dirname, '..', '..', '..', 'shared', 'odm-bench');

export interface Dataset {
  /** The parsed document (extended JSON types, such as image_field's $binary, become BSON values). */
  doc: Document;
  /** Size of the source file in bytes: the spec's unit for the task size. */
  bytes: number;
}

export interface Datasets {
  small: Dataset;
  large: Dataset;
  nested: Dataset;
}

/**
 * Reads the three documents straight out of the .tgz archives. A tar archive is 512-byte
 * headers each followed by the file padded to 512 bytes, so no tar tool (nor its warnings about
 * the macOS extended headers in these archives) is needed.
 */
export function loadDatasets(dir = process.env.ODM_BENCH_DATA ?? DEFAULT_DATA_DIR): Datasets {
  const flat = untar(gunzipSync(readFileSync(join(dir, 'flat_models.tgz'))));
  const nested = untar(gunzipSync(readFileSync(join(dir, 'nested_models.tgz'))));
  return {
    small: parse(pick(flat, 'flat-models/small_doc.json')),
    large: parse(pick(flat, 'flat-models/large_doc.json')),
    nested: parse(pick(nested, 'nested-models/large_doc_nested.json')),
  };
}

function parse(bytes: Buffer): Dataset {
  return { doc: BSON.EJSON.parse(bytes.toString('utf8'), { relaxed: true }) as Document, bytes: bytes.length };
}

function pick(files: Map<string, Buffer>, name: string): Buffer {
  const file = files.get(name);
  if (!file) throw new Error(`the archive has no ${name} (it has ${[...files.keys()].join(', ')})`);
  return file;
}

function untar(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (let offset = 0; offset + 512 <= archive.length;) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const name = cString(header.subarray(0, 100));
    const prefix = cString(header.subarray(345, 500));
    const size = parseInt(cString(header.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const body = archive.subarray(offset + 512, offset + 512 + size);
    const path = prefix ? `${prefix}/${name}` : name;
    // '0' regular file; pax headers ('x', 'g') and macOS resource forks ('._*') carry no data we need.
    if (type === '0' && !path.split('/').pop()!.startsWith('._')) files.set(path.replace(/^\.\//, ''), Buffer.from(body));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/**
 * A fresh LARGE_DOC_NESTED instance as the reference implementations build it: every embedded
 * document gets its own `unique_id` (the dataset has none). Identical for all implementations
 * and part of the timed phase of the creation tasks, as in the spec's reference code.
 */
export function nestedInstance(source: Document, newId: () => ObjectId): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(source)) {
    out[key] = Array.isArray(value)
      ? value.map((item: Document) => ({ ...item, unique_id: newId() }))
      : { ...(value as Document), unique_id: newId() };
  }
  return out;
}

/** The update tasks alternate between two 13-byte values so that every iteration really changes the field (an ODM may skip a write that changes nothing). */
export function updateValue(iteration: number): string {
  return iteration % 2 === 0 ? 'updated_value' : 'UPDATED_VALUE';
}
export const UPDATE_VALUE_BYTES = 13;
