// The OpenAI Realtime API over WebSocket, as OpenAI and Azure OpenAI serve it: `GET …/realtime?model=…`
// (Azure: `/openai/realtime?deployment=…` or `/openai/v1/realtime?model=…`), JSON events in text
// frames; each finished response's usage arrives in its `response.done` event.
import type { TokengateErrorCode, UnsupportedOperation } from '../provider-adapter';
import type { RealtimeObservation, RealtimeSupport } from '../realtime';
import { tokenUsage } from '../usage-accounting';
import { member, parseJsonObject, stringMember, tokenCount } from './json-values';

const SESSION_PATH = /\/realtime\/?$/;
const KEY_PROTOCOL = 'openai-insecure-api-key.';
/** Only these server events are parsed: every other one (audio deltas are most of a session) is relayed unread. */
const RESPONSE_DONE = '"response.done"';
const RESPONSE_CREATED = '"response.created"';
const SESSION_CREATED = '"session.created"';
const SESSION_UPDATED = '"session.updated"';

export const openAiRealtime: RealtimeSupport = {
  isSessionPath: (providerPath) => SESSION_PATH.test(providerPath),

  requestModel(query) {
    if (query.length <= 1) return '';
    const params = new URLSearchParams(query.slice(1));
    return params.get('model') ?? params.get('deployment') ?? '';
  },

  keyInProtocol: (protocol) => (protocol.startsWith(KEY_PROTOCOL) ? protocol.slice(KEY_PROTOCOL.length) : null),

  observeServerMessage(message): RealtimeObservation | null {
    // Bytes are searched, not decoded: only the few events that can matter are turned into text.
    if (!message.includes(RESPONSE_DONE) && !message.includes(RESPONSE_CREATED) && !message.includes(SESSION_CREATED) && !message.includes(SESSION_UPDATED)) return null;
    const event = parseJsonObject(message.toString('utf8'));
    const type = event?.['type'];
    if (type === 'response.created') return { usage: null, model: null, response: 'started' };
    if (type === 'response.done') {
      const usage = member(member(event, 'response'), 'usage');
      if (usage === undefined || usage === null) return { usage: null, model: null, response: 'ended' };
      const prompt = tokenCount(member(usage, 'input_tokens')) ?? 0;
      const completion = tokenCount(member(usage, 'output_tokens')) ?? 0;
      const cached = tokenCount(member(member(usage, 'input_token_details'), 'cached_tokens'));
      return { usage: tokenUsage(prompt, completion, { cachedRead: cached }), model: null, response: 'ended' };
    }
    if (type === 'session.created' || type === 'session.updated') {
      const model = stringMember(member(event, 'session'), 'model');
      return model === null || model === '' ? null : { usage: null, model };
    }
    return null;
  },

  errorEvent(code: TokengateErrorCode, message: string, requestId: string): string {
    return JSON.stringify({
      type: 'error',
      event_id: `event_tokengate_${requestId}`,
      error: { type: errorType(code), code: `tokengate_${code}`, message, param: null, event_id: null },
    });
  },
};

/** OpenAI's error type for a Tokengate error code: a budget's, the provider's side (server), else the request's. */
function errorType(code: TokengateErrorCode): string {
  if (code === 'rate_limited') return 'rate_limit_error';
  return code.startsWith('upstream_') ? 'server_error' : 'invalid_request_error';
}

/**
 * The Realtime surfaces that connect an app straight to the provider, where the proxy never sees the
 * session: ephemeral client secrets (`…/realtime/client_secrets`; the beta `…/realtime/sessions` and
 * `…/realtime/transcription_sessions`; Azure's preview `/openai/realtimeapi/sessions`), which a
 * browser or phone then uses at the provider, and WebRTC or SIP calls (`…/realtime/calls`,
 * `…/realtime/calls/{id}/accept` and the other call controls), whose media and usage flow between the
 * caller and the provider.
 */
const DIRECT_SESSION_PATH = /\/realtime(?:api)?\/(?:client_secrets|sessions|transcription_sessions|calls)(?:\/[^/]+)*\/?$/;

/**
 * 403 for the Realtime surfaces above: carried, each would hand the app a session that no budget
 * limits and no usage record counts, paid with the service's key (ADR 022). The WebSocket session,
 * which the proxy relays and meters, is the way through Tokengate.
 */
export function openAiRealtimeBypass(_method: string, providerPath: string): UnsupportedOperation | null {
  if (!DIRECT_SESSION_PATH.test(providerPath)) return null;
  return {
    status: 403,
    message:
      "Realtime client secrets and WebRTC or SIP calls connect the app straight to the provider, where Tokengate can neither meter nor limit the session, so the proxy does not carry them. Open the Realtime session over WebSocket through this proxy instead (GET …/realtime?model=…, the openai SDK's OpenAIRealtimeWS).",
  };
}
