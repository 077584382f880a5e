// Helpers for asserting on wire formats in tests: parse an SSE body, reduce JSON to its shape.

export interface SseEvent {
  event?: string;
  data: string;
}

/** Parses a complete `text/event-stream` body into its events (multi-line data joined by \n). */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.replace(/\r\n?/g, '\n').split('\n\n')) {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0) events.push(event === undefined ? { data: data.join('\n') } : { event, data: data.join('\n') });
  }
  return events;
}

/**
 * The structure of a JSON value: objects keep their keys (sorted) with the shapes of their values,
 * arrays the shape of their first element, scalars become their type name ('null' for null).
 * Two documents with equal shapes differ only in values.
 */
export function shapeOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (typeof value === 'object') {
    const shape: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) shape[key] = shapeOf((value as Record<string, unknown>)[key]);
    return shape;
  }
  return typeof value;
}
