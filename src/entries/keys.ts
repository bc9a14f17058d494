/**
 * `strongbox/keys`: data key management from code (the CLI's `strongbox keys` does the same):
 * creating the keys the models name, alt names, rewrapping, local master key rotation, deletion.
 */
export { ensureModelKeys, listKeys, type EnsuredKey, type KeyDescription, type KeySelector } from '../keys/keys';
export { createKey, getKey, addKeyAltName, removeKeyAltName, type CreateKeyOptions } from '../keys/manage';
export { rewrapKeys, rotateLocalMasterKey, type RotationResult } from '../keys/rotate';
export { deleteKey, keyDeletionImpact, type KeyDeletionImpact } from '../keys/delete';
