// Path segments that name a model (Azure deployments, Bedrock model ids) arrive percent-encoded.

/** The segment percent-decoded, or as it is when its escapes are malformed. */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
