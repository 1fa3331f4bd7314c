/** A parsed JSON object: not an array, not `null`. Fields are `unknown` until checked. */
export type JsonObject = { readonly [name: string]: unknown };

/** True when `value` is a JSON object (arrays and `null` are not). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when `object` has `name` as its own field (a field that is present, even if `null`). */
export function hasField(object: JsonObject, name: string): boolean {
  return Object.hasOwn(object, name);
}

/** A short rendering of a JSON value for a message: never the whole of a huge string or object. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 64 ? `${JSON.stringify(value.slice(0, 64))}…` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : 'an object';
}
