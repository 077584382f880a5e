// Typed reads of parsed JSON (request and response bodies) without trusting their shape.

export type JsonObject = Readonly<Record<string, unknown>>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value[name]` when value is an object, else undefined. */
export function member(value: unknown, name: string): unknown {
  return isJsonObject(value) ? value[name] : undefined;
}

export function stringMember(value: unknown, name: string): string | null {
  const found = member(value, name);
  return typeof found === 'string' ? found : null;
}

/** The elements of `value[name]` when it is an array, else none. */
export function arrayMember(value: unknown, name: string): readonly unknown[] {
  const found = member(value, name);
  return Array.isArray(found) ? found : [];
}

/** A token count: a finite non-negative integer, else null. */
export function tokenCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** The first of `names` whose member is a token count, else null. */
export function firstTokenCount(value: unknown, ...names: readonly string[]): number | null {
  for (const name of names) {
    const count = tokenCount(member(value, name));
    if (count !== null) return count;
  }
  return null;
}

/** Parses a JSON object, or null when the text is not one (never throws). */
export function parseJsonObject(text: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** Text for counting from a value that is text already or structured (tool inputs given as objects). */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  return JSON.stringify(value);
}
