// What a Bedrock Runtime path names, read once for usage accounting and for prompt counting: the model
// id and the operation of `/model/{modelId}/{action}`.
import { decodePathSegment } from '../shared/path-segment';
import type { UnsupportedOperation } from '../provider-adapter';
import type { UsageOperation } from '../usage-accounting';

/** `/model/{modelId}/{action}`; the model id arrives URL-encoded (`v1%3A0`, ARNs with `%2F`). */
const MODEL_PATH = /\/model\/([^/]+)\/([^/]+)\/?$/;

const OPERATIONS: ReadonlyMap<string, UsageOperation> = new Map<string, UsageOperation>([
  ['converse', 'converse'],
  ['converse-stream', 'converse_stream'],
  ['invoke', 'invoke'],
  ['invoke-with-response-stream', 'invoke_stream'],
  ['count-tokens', 'count_tokens'],
]);

export interface BedrockRoute {
  /** The model id, percent-decoded (`anthropic.claude-3-5-sonnet-20240620-v1:0`, an inference profile or an ARN). */
  readonly model: string;
  /** 'other' for an action this proxy does not know. */
  readonly operation: UsageOperation;
  /** The response is an AWS event stream (ConverseStream, InvokeModelWithResponseStream). */
  readonly stream: boolean;
}

/** The model and operation of a `/model/{modelId}/{action}` path (one trailing slash allowed), or null for any other path. */
export function bedrockRoute(providerPath: string): BedrockRoute | null {
  const route = MODEL_PATH.exec(providerPath);
  if (route === null) return null;
  const operation = OPERATIONS.get(route[2]) ?? 'other';
  return { model: decodePathSegment(route[1]), operation, stream: operation === 'converse_stream' || operation === 'invoke_stream' };
}

/** `/guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply` (ApplyGuardrail). */
const GUARDRAIL_APPLY_PATH = /\/guardrail\/[^/]+\/version\/[^/]+\/apply\/?$/;

/** Whether the path is ApplyGuardrail's, which Bedrock bills in policy text units rather than tokens. */
export function isGuardrailApply(providerPath: string): boolean {
  return GUARDRAIL_APPLY_PATH.test(providerPath);
}

/**
 * InvokeModelWithBidirectionalStream (`POST /model/{modelId}/invoke-with-bidirectional-stream`, HTTP/2):
 * its event-stream request body lasts as long as the session, while the proxy reads a request's whole
 * body before forwarding it (it counts and signs it). Refused at once rather than left hanging.
 */
export function bedrockUnsupportedOperation(_method: string, providerPath: string): UnsupportedOperation | null {
  if (bedrockRoute(providerPath)?.operation !== 'other') return null;
  if (!/\/invoke-with-bidirectional-stream\/?$/.test(providerPath)) return null;
  return { status: 501, message: 'InvokeModelWithBidirectionalStream is not supported through the Tokengate proxy: its request body streams for the whole session, and the proxy forwards only complete requests. Call InvokeModel, InvokeModelWithResponseStream, Converse or ConverseStream instead.' };
}
