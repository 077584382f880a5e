import { openAiRealtime, openAiRealtimeBypass } from './openai-realtime';

const message = (event: unknown) => Buffer.from(JSON.stringify(event));

describe('openAiRealtime', () => {
  it('reads response.done usage: input, output and cached tokens', () => {
    const usage = {
      total_tokens: 271, input_tokens: 230, output_tokens: 41,
      input_token_details: { text_tokens: 80, audio_tokens: 150, image_tokens: 0, cached_tokens: 128, cached_tokens_details: { text_tokens: 53, audio_tokens: 75, image_tokens: 0 } },
      output_token_details: { text_tokens: 11, audio_tokens: 30 },
    };
    expect(openAiRealtime.observeServerMessage(message({ type: 'response.done', event_id: 'e', response: { id: 'r', status: 'completed', usage } }))).toEqual({
      usage: { promptTokens: 230, completionTokens: 41, cachedReadTokens: 128 },
      model: null,
      response: 'ended',
    });
  });

  it('tells when a response starts and ends (with or without usage), for the stall check', () => {
    expect(openAiRealtime.observeServerMessage(message({ type: 'response.created', event_id: 'e', response: { id: 'r', status: 'in_progress', usage: null } }))).toEqual({ usage: null, model: null, response: 'started' });
    expect(openAiRealtime.observeServerMessage(message({ type: 'response.done', response: { status: 'cancelled', usage: null } }))).toEqual({ usage: null, model: null, response: 'ended' });
    expect(openAiRealtime.observeServerMessage(message({ type: 'response.output_text.delta', delta: 'a "response.created" event' }))).toBeNull();
  });

  it('reads the session model; ignores every other event, and text that only mentions the names', () => {
    expect(openAiRealtime.observeServerMessage(message({ type: 'session.created', session: { model: 'gpt-realtime' } }))).toEqual({ usage: null, model: 'gpt-realtime' });
    expect(openAiRealtime.observeServerMessage(message({ type: 'response.output_text.delta', delta: 'the "response.done" event' }))).toBeNull();
    expect(openAiRealtime.observeServerMessage(message({ type: 'response.output_audio.delta', delta: 'AAAA' }))).toBeNull();
    expect(openAiRealtime.observeServerMessage(Buffer.from('{"type":"response.done", broken'))).toBeNull();
  });

  it('knows session paths, the requested model, and the browser key subprotocol', () => {
    expect(['/realtime', '/v1/realtime', '/openai/realtime', '/openai/v1/realtime/'].every((p) => openAiRealtime.isSessionPath(p))).toBe(true);
    expect(openAiRealtime.isSessionPath('/chat/completions')).toBe(false);
    expect(openAiRealtime.isSessionPath('/realtime/client_secrets')).toBe(false);
    expect(openAiRealtime.requestModel('?model=gpt-realtime')).toBe('gpt-realtime');
    expect(openAiRealtime.requestModel('?api-version=2025-04-01-preview&deployment=my-deployment')).toBe('my-deployment');
    expect(openAiRealtime.requestModel('')).toBe('');
    expect(openAiRealtime.keyInProtocol('openai-insecure-api-key.tgk_abc')).toBe('tgk_abc');
    expect(openAiRealtime.keyInProtocol('realtime')).toBeNull();
  });

  it('renders an error event the SDK raises', () => {
    expect(JSON.parse(openAiRealtime.errorEvent('rate_limited', 'used up', 'req-1'))).toEqual({
      type: 'error',
      event_id: 'event_tokengate_req-1',
      error: { type: 'rate_limit_error', code: 'tokengate_rate_limited', message: 'used up', param: null, event_id: null },
    });
  });
});

describe('openAiRealtimeBypass', () => {
  it.each([
    '/realtime/client_secrets', // OpenAI GA (the SDK's baseURL ends in /v1)
    '/v1/realtime/client_secrets',
    '/realtime/sessions', // beta
    '/realtime/transcription_sessions',
    '/realtime/calls', // WebRTC SDP offer
    '/realtime/calls/rtc_123/accept', // SIP
    '/realtime/calls/rtc_123/hangup',
    '/openai/realtimeapi/sessions', // Azure preview
    '/openai/v1/realtime/client_secrets', // Azure GA
    '/openai/v1/realtime/calls/',
  ])('refuses %s with 403: it would hand the app a session the proxy never sees', (path) => {
    expect(openAiRealtimeBypass('POST', path)).toEqual({ status: 403, message: expect.stringMatching(/neither meter nor limit/) });
  });

  it.each(['/realtime', '/openai/realtime', '/openai/v1/realtime', '/chat/completions', '/responses', '/audio/transcriptions', '/realtime-notes/sessions', '/files'])('carries %s', (path) => {
    expect(openAiRealtimeBypass('POST', path)).toBeNull();
  });
});

