/**
 * Zeroes bytes that held plaintext or key material once they are no longer needed, so memory Node
 * reuses for other buffers does not carry them. A loop is cheaper than fill() for the short values
 * most are.
 */
export function wipe(bytes: Uint8Array): void {
  if (bytes.length > 256) bytes.fill(0);
  else for (let b = 0; b < bytes.length; b++) bytes[b] = 0;
}
