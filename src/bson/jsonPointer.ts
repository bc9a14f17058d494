/**
 * The tokens of a JSON pointer (RFC 6901, "JavaScript Object Notation (JSON) Pointer"): '/a/b'
 * names field b of a; '~1' stands for '/' and '~0' for '~'. The caller has checked that the
 * pointer starts with '/'.
 */
export function parsePointer(pointer: string): string[] {
  return pointer.slice(1).split('/').map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}
