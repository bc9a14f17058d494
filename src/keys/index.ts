export { ensureModelKeys, listKeys, findKey, type EnsuredKey, type KeyDescription, type KeySelector } from './keys';
export { createKey, getKey, addKeyAltName, removeKeyAltName, type CreateKeyOptions } from './manage';
export { rewrapKeys, rotateLocalMasterKey, type RotationResult } from './rotate';
export { deleteKey, keyDeletionImpact, type KeyDeletionImpact } from './delete';
