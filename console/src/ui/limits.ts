// The control plane's limits on what a form sends, checked in the browser first so a value too long
// is pointed out on its field as it is typed, instead of a late refusal (an HTTP 400) after Save.
// The numbers are the server's own (test/console/console-polish.test.ts compares them):
// control-plane/src/common/validation.ts, genai-service/backend-security.ts, marketplace/marketplace.service.ts
// and the input caps of graphql/input-caps.ts, which count a string's length (UTF-16 code units) as sent.
export const LIMITS = {
  /** MAX_NAME_LENGTH: a service's or a connection's name. */
  name: 120,
  /** MAX_SUMMARY_LENGTH */
  summary: 300,
  /** MAX_DESCRIPTION_LENGTH: a service's description. */
  description: 5000,
  /** MAX_CONNECTION_DESCRIPTION_LENGTH */
  connectionDescription: 2000,
  /** MAX_URL_LENGTH: service URLs. */
  url: 2048,
  /** MAX_HEADER_NAME_LENGTH */
  headerName: 64,
  /** MAX_API_VERSION_LENGTH */
  apiVersion: 40,
  /** MAX_AWS_REGION_LENGTH */
  awsRegion: 64,
  /** MAX_SECRET_LENGTH: an API key, an AWS key id, secret or session token. */
  secret: 4096,
  /** MAX_SEARCH_LENGTH: the marketplace's search text. */
  search: 200,
  /** MAX_LABEL_LENGTH */
  label: 63,
} as const;

/** Why a value is too long to send, or null. Counts the value as sent (the forms trim what they send). */
export function lengthProblem(value: string, max: number): string | null {
  const length = value.trim().length;
  return length > max ? `At most ${max.toLocaleString('en-US')} characters: this has ${length.toLocaleString('en-US')}.` : null;
}
