// What a Content-Type header says about a body, reduced to what accounting needs.

export type BodyKind = 'json' | 'sse' | 'aws-eventstream' | 'multipart' | 'binary' | 'other' | 'none';

/** Classifies a Content-Type value (parameters ignored, case-insensitive). */
export function bodyKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return 'none';
  const semicolon = contentType.indexOf(';');
  const media = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (media === '') return 'none';
  if (media === 'application/json' || media.endsWith('+json')) return 'json';
  if (media === 'text/event-stream') return 'sse';
  if (media === 'application/vnd.amazon.eventstream') return 'aws-eventstream';
  if (media.startsWith('multipart/')) return 'multipart';
  if (media === 'application/octet-stream' || /^(audio|image|video)\//.test(media)) return 'binary';
  return 'other';
}
