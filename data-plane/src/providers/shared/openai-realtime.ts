// The OpenAI Realtime API over WebSocket, as OpenAI and Azure OpenAI serve it: `GET …/realtime?model=…`
// (Azure: `/openai/realtime?deployment=…` or `/openai/v1/realtime?model=…`), JSON events in text
// frames; each finished response's usage arrives in its `response.done` event.
import type { TokengateErrorCode } from '../provider-adapter';
import type { RealtimeObservation, RealtimeSupport } from '../realtime';
import { tokenUsage } from '../usage-accounting';
import { member, parseJsonObject, stringMember, tokenCount } from './json-values';

const SESSION_PATH = /\/realtime\/?$/;
const KEY_PROTOCOL = 'openai-insecure-api-key.';
/** Only these server events are parsed: every other one (audio deltas are most of a session) is relayed unread. */
const RESPONSE_DONE = '"response.done"';
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
    if (!message.includes(RESPONSE_DONE) && !message.includes(SESSION_CREATED) && !message.includes(SESSION_UPDATED)) return null;
    const event = parseJsonObject(message.toString('utf8'));
    const type = event?.['type'];
    if (type === 'response.done') {
      const usage = member(member(event, 'response'), 'usage');
      if (usage === undefined || usage === null) return null;
      const prompt = tokenCount(member(usage, 'input_tokens')) ?? 0;
      const completion = tokenCount(member(usage, 'output_tokens')) ?? 0;
      const cached = tokenCount(member(member(usage, 'input_token_details'), 'cached_tokens'));
      return { usage: tokenUsage(prompt, completion, { cachedRead: cached }), model: null };
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
      error: { type: code === 'rate_limited' ? 'rate_limit_error' : 'invalid_request_error', code: `tokengate_${code}`, message, param: null, event_id: null },
    });
  },
};
