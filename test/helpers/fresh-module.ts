/**
 * A fresh copy of the module at `id` (from require.resolve), loaded anew so that
 * its module-level cache starts empty (under a fake clock, say).
 */
export function freshModule<T>(id: string): T {
  delete require.cache[id];
  return require(id) as T;
}
