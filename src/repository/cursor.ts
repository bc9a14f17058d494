import type { AbstractCursor, Document } from 'mongodb';

/**
 * A cursor over model instances: each batch the server returns is decrypted in one pass and
 * hydrated, then handed out one by one. Usable with `for await` or `toArray()`.
 */
export class StrongboxCursor<T> implements AsyncIterable<T> {
  constructor(
    private readonly cursor: AbstractCursor<Document>,
    /** Synchronous when the batch needs no decryption and no hook. */
    private readonly readBatch: (docs: Document[]) => T[] | Promise<T[]>,
    /** Settles once the encoded query is attached to the driver cursor (absent when it was attached at once); its errors surface on first read. */
    private readonly ready?: Promise<void>,
  ) {
    ready?.catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      if (this.ready) await this.ready;
      while (await this.cursor.hasNext()) {
        const batch = this.cursor.readBufferedDocuments();
        for (const item of await this.readBatch(batch)) yield item;
      }
    } finally {
      await this.cursor.close();
    }
  }

  /** Yields whole decrypted batches (as sized by `batchSize`), for streaming large results. */
  async *batches(): AsyncGenerator<T[]> {
    try {
      if (this.ready) await this.ready;
      while (await this.cursor.hasNext()) yield await this.readBatch(this.cursor.readBufferedDocuments());
    } finally {
      await this.cursor.close();
    }
  }

  async toArray(): Promise<T[]> {
    // The loop of batches() without a generator in between: findOne and findById come through here.
    const all: T[] = [];
    try {
      if (this.ready) await this.ready;
      while (await this.cursor.hasNext()) {
        const read = this.readBatch(this.cursor.readBufferedDocuments());
        const batch = read instanceof Promise ? await read : read;
        for (let i = 0; i < batch.length; i++) all.push(batch[i]);
      }
    } finally {
      await this.cursor.close();
    }
    return all;
  }

  close(): Promise<void> {
    return this.cursor.close();
  }
}
