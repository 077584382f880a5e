// Nested maps on the request path: a lookup per level with keys the caller already holds, instead of
// one key joined (and hashed) per request.

/** The map under `key` in `map`, created empty the first time. */
export function innerMap<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}
