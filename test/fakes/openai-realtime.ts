// Fake OpenAI Realtime API over WebSocket (GA wire format, as the `openai` SDK's OpenAIRealtimeWS and
// OpenAI's API reference show it): `GET …/realtime?model=…` (Azure: `/openai/realtime?deployment=…`,
// `/openai/v1/realtime?model=…`) upgraded to a WebSocket; `session.created` on connect;
// `session.update` → `session.updated`; `conversation.item.create` → `conversation.item.added` and
// `conversation.item.done`; `response.create` → `response.created`, output item and
// content part events, a few `response.output_audio.delta` (+ transcript) or `response.output_text.delta`
// events (or, for `behaviour.toolCall`, a `function_call` item with its arguments in pieces), their
// `.done` events, then `response.done` with the usage the provider bills; errors as
// `{type: "error", error: {...}}` events. Like the other fakes it requires the upstream key (a wrong or
// missing one is refused at the handshake with OpenAI's 401 JSON body) and sends its events in uneven
// timing (some together, some a few milliseconds apart).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { type FakeUsage, field, listenOnLoopback, sleep } from './recorder';
import { argumentPieces } from './tool-calls';

/** Per response: what `response.done` reports. Audio parts split the totals (see realtimeUsage). */
export interface FakeRealtimeUsage extends FakeUsage {
  /** Input tokens that were audio (the rest text; default: half the prompt). */
  audioPrompt?: number;
  /** Output tokens that were audio (default: all but 5 of the completion, for the transcript). */
  audioCompletion?: number;
}

export interface FakeRealtimeBehaviour {
  /** Usage of the n-th response of a session (the last one repeats). */
  responses: FakeRealtimeUsage[];
  /** The model the session reports (default: the `model` / `deployment` of the URL). */
  model?: string;
  /** Close the session from the upstream side after this many responses, with this code and reason. */
  closeAfterResponses?: { count: number; code: number; reason: string };
  /** Responses stop after their first events (`response.created`, the output item): nothing more is sent, pings are still answered. */
  stallResponses?: boolean;
  /**
   * The session's first response calls this function, when the session offers it (`session.tools`):
   * a `function_call` output item, its arguments streamed in pieces; the next responses answer text.
   */
  toolCall?: { name: string; arguments: string };
}

export interface RecordedRealtimeSession {
  /** Path as received (no query). */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The subprotocol the fake accepted ('' for none). */
  protocol: string;
  /** Client events (parsed JSON) in arrival order. */
  events: unknown[];
  /** Binary messages the client sent (the API takes none; each gets an error event). */
  binary: Buffer[];
  /** The close code the fake saw (0 while open). */
  closeCode: number;
  /** Payloads of the pings the fake received (and answered, as the provider's server does, unless frozen). */
  pings: Buffer[];
  /** Payloads of the pongs the fake received. */
  pongs: Buffer[];
}

export interface FakeRealtimeServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** Handshakes the fake refused (wrong key, wrong path), by their headers. */
  refused: IncomingHttpHeaders[];
  sessions: RecordedRealtimeSession[];
  behaviour: FakeRealtimeBehaviour;
  /** Sends a binary message to every open session (no real event is binary: for relay tests). */
  sendBinary(data: Buffer): void;
  /** Closes every open session from the upstream side. */
  closeSessions(code: number, reason: string): void;
  /**
   * Every open session stops reading its socket: no event, no pong, no close answered, the TCP
   * connection left open — a provider host that hung, or a connection dropped by a middlebox
   * without a reset. Undone by reset().
   */
  freezeSessions(): void;
  reset(): void;
  close(): Promise<void>;
}

export interface FakeRealtimeOptions {
  /** The key the handshake must carry. */
  requireApiKey: string;
  /** Where: `authorization` (OpenAI, `Bearer <key>`) or `api-key` (Azure). Default authorization. */
  keyHeader?: 'authorization' | 'api-key';
}

/** Two turns whose second reads the first from the prompt cache, as a conversation does. */
export function defaultRealtimeResponses(): FakeRealtimeUsage[] {
  return [
    { prompt: 120, completion: 64, cachedRead: 0, audioPrompt: 80, audioCompletion: 52 },
    { prompt: 230, completion: 41, cachedRead: 128, audioPrompt: 150, audioCompletion: 30 },
  ];
}

/** `response.usage` as OpenAI's Realtime API reports it: cached tokens are part of the input tokens. */
export function realtimeUsage(usage: FakeRealtimeUsage): object {
  const cached = usage.cachedRead ?? 0;
  const audioIn = usage.audioPrompt ?? Math.floor(usage.prompt / 2);
  const audioOut = usage.audioCompletion ?? Math.max(0, usage.completion - 5);
  const cachedAudio = Math.min(cached, Math.floor(audioIn / 2));
  return {
    total_tokens: usage.prompt + usage.completion,
    input_tokens: usage.prompt,
    output_tokens: usage.completion,
    input_token_details: {
      text_tokens: usage.prompt - audioIn,
      audio_tokens: audioIn,
      image_tokens: 0,
      cached_tokens: cached,
      cached_tokens_details: { text_tokens: cached - cachedAudio, audio_tokens: cachedAudio, image_tokens: 0 },
    },
    output_token_details: { text_tokens: usage.completion - audioOut, audio_tokens: audioOut },
  };
}

const id = (prefix: string) => `${prefix}_${randomBytes(9).toString('base64url')}`;

function errorEvent(type: string, code: string, message: string, param: string | null, eventId: string | null): object {
  return { type: 'error', event_id: id('event'), error: { type, code, message, param, event_id: eventId } };
}

function sessionObject(model: string): Record<string, unknown> {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id: id('sess'),
    model,
    output_modalities: ['audio'],
    instructions: "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI.",
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    prompt: null,
    expires_at: Math.floor(Date.now() / 1000) + 3600,
    audio: {
      input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: null, noise_reduction: null, turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 200, idle_timeout_ms: null, create_response: true, interrupt_response: true } },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1 },
    },
    include: null,
  };
}

export async function startFakeOpenAIRealtime(options: FakeRealtimeOptions): Promise<FakeRealtimeServer> {
  const keyHeader = options.keyHeader ?? 'authorization';
  const expected = keyHeader === 'authorization' ? `Bearer ${options.requireApiKey}` : options.requireApiKey;
  const behaviour: FakeRealtimeBehaviour = { responses: defaultRealtimeResponses() };
  const sessions: RecordedRealtimeSession[] = [];
  const refused: IncomingHttpHeaders[] = [];
  const open = new Set<WebSocket>();
  const frozen = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => (offered.has('realtime') ? 'realtime' : false) });
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'This endpoint expects a WebSocket upgrade.', type: 'invalid_request_error', code: null, param: null } }));
  });

  const refuse = (socket: Duplex, status: number, body: object): void => {
    const text = JSON.stringify(body);
    socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (!/\/realtime\/?$/.test(url.pathname)) {
      refused.push(req.headers);
      refuse(socket, 404, { error: { message: `Invalid URL (GET ${url.pathname})`, type: 'invalid_request_error', code: null, param: null } });
      return;
    }
    if (req.headers[keyHeader] !== expected) {
      refused.push(req.headers);
      refuse(socket, 401, { error: { message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', code: 'invalid_api_key', param: null } });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const query = Object.fromEntries(url.searchParams.entries());
      const recorded: RecordedRealtimeSession = { path: url.pathname, query, headers: req.headers, protocol: ws.protocol, events: [], binary: [], closeCode: 0, pings: [], pongs: [] };
      sessions.push(recorded);
      open.add(ws);
      serveSession(ws, recorded, behaviour.model ?? query['model'] ?? query['deployment'] ?? 'gpt-realtime');
    });
  });

  function serveSession(ws: WebSocket, recorded: RecordedRealtimeSession, model: string): void {
    const session = sessionObject(model);
    const conversation = id('conv');
    let responsesDone = 0;
    /** The conversation's last item (a created one's `previous_item_id`). */
    let lastItemId: string | null = null;
    /** Whether this session's model called `behaviour.toolCall` already. */
    let toolCalled = false;
    /** Events go out in order; a response's events are paced unevenly. */
    let queue = Promise.resolve();
    const send = (event: object): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
    };
    const later = (work: () => Promise<void> | void): void => {
      queue = queue.then(work).catch(() => undefined);
    };
    later(() => send({ type: 'session.created', event_id: id('event'), session }));
    ws.on('close', (code) => {
      recorded.closeCode = code;
      open.delete(ws);
    });
    ws.on('ping', (data: Buffer) => recorded.pings.push(Buffer.from(data)));
    ws.on('pong', (data: Buffer) => recorded.pongs.push(Buffer.from(data)));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        recorded.binary.push(Buffer.from(data as Buffer));
        later(() => send(errorEvent('invalid_request_error', 'invalid_event', 'Binary messages are not supported: send JSON events as text.', null, null)));
        return;
      }
      let event: { type?: unknown; event_id?: unknown; session?: unknown; response?: unknown };
      try {
        event = JSON.parse((data as Buffer).toString('utf8')) as typeof event;
      } catch {
        later(() => send(errorEvent('invalid_request_error', 'invalid_json', "The server had trouble parsing your event. Make sure it's valid JSON.", null, null)));
        return;
      }
      recorded.events.push(event);
      const eventId = typeof event.event_id === 'string' ? event.event_id : null;
      if (event.type === 'session.update') {
        if (typeof event.session === 'object' && event.session !== null) Object.assign(session, event.session);
        later(() => send({ type: 'session.updated', event_id: id('event'), session }));
      } else if (event.type === 'response.create') {
        const usage = behaviour.responses[Math.min(responsesDone, behaviour.responses.length - 1)];
        responsesDone += 1;
        const closing = behaviour.closeAfterResponses !== undefined && responsesDone >= behaviour.closeAfterResponses.count ? behaviour.closeAfterResponses : undefined;
        const wanted = behaviour.toolCall;
        const tools = session['tools'];
        const call = !toolCalled && wanted !== undefined && Array.isArray(tools) && tools.some((tool) => field(tool, 'type') === 'function' && field(tool, 'name') === wanted.name) ? wanted : null;
        if (call !== null) toolCalled = true;
        later(() => respond(send, session, conversation, usage, call));
        if (closing !== undefined) later(() => ws.close(closing.code, closing.reason));
      } else if (event.type === 'conversation.item.create' && typeof field(event, 'item') === 'object' && field(event, 'item') !== null) {
        // GA: the item as the conversation holds it (an id given when the client named none), added then done.
        const given = field(event, 'item') as Record<string, unknown>;
        const item = { ...given, id: typeof given['id'] === 'string' ? given['id'] : id('item'), object: 'realtime.item', status: 'completed' };
        const previous = lastItemId;
        lastItemId = item.id;
        later(() => {
          send({ type: 'conversation.item.added', event_id: id('event'), previous_item_id: previous, item });
          send({ type: 'conversation.item.done', event_id: id('event'), previous_item_id: previous, item });
        });
      } else if (typeof event.type === 'string' && event.type.startsWith('input_audio_buffer.')) {
        // Accepted silently (audio appends get no answer; commit/clear would, not needed here).
      } else {
        later(() => send(errorEvent('invalid_request_error', 'invalid_value', `Invalid value: '${String(event.type)}'. Supported values are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear', 'conversation.item.create', 'conversation.item.truncate', 'conversation.item.delete', 'conversation.item.retrieve', 'response.create', and 'response.cancel'.`, 'type', eventId)));
      }
    });
  }

  async function respond(send: (event: object) => void, session: Record<string, unknown>, conversation: string, usage: FakeRealtimeUsage, call: { name: string; arguments: string } | null): Promise<void> {
    const modalities = Array.isArray(session['output_modalities']) ? (session['output_modalities'] as string[]) : ['audio'];
    const audio = modalities.includes('audio');
    const responseId = id('resp');
    const itemId = id('item');
    const response = { object: 'realtime.response', id: responseId, status: 'in_progress', status_details: null, output: [] as unknown[], conversation_id: conversation, output_modalities: modalities, max_output_tokens: 'inf', audio: { output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' } }, usage: null as unknown, metadata: null };
    const common = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
    send({ type: 'response.created', event_id: id('event'), response });
    if (call !== null) {
      await callFunction(send, response, itemId, usage, call);
      return;
    }
    const item = { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] as unknown[] };
    send({ type: 'response.output_item.added', event_id: id('event'), response_id: responseId, output_index: 0, item });
    if (behaviour.stallResponses === true) return;
    await sleep(3);
    send({ type: 'response.content_part.added', event_id: id('event'), ...common, part: audio ? { type: 'audio', transcript: '' } : { type: 'text', text: '' } });
    const words = ['Hello', ' from', ' the', ' fake', ' realtime', ' model.'];
    for (let i = 0; i < words.length; i++) {
      if (audio) {
        send({ type: 'response.output_audio.delta', event_id: id('event'), ...common, delta: randomBytes(480 + i * 97).toString('base64') });
        send({ type: 'response.output_audio_transcript.delta', event_id: id('event'), ...common, delta: words[i] });
      } else {
        send({ type: 'response.output_text.delta', event_id: id('event'), ...common, delta: words[i] });
      }
      // Uneven: some events leave together, some a few milliseconds apart.
      if (i % 2 === 1) await sleep(1 + (i % 3) * 4);
    }
    const text = words.join('');
    if (audio) {
      send({ type: 'response.output_audio.done', event_id: id('event'), ...common });
      send({ type: 'response.output_audio_transcript.done', event_id: id('event'), ...common, transcript: text });
    } else {
      send({ type: 'response.output_text.done', event_id: id('event'), ...common, text });
    }
    const part = audio ? { type: 'audio', transcript: text } : { type: 'text', text };
    send({ type: 'response.content_part.done', event_id: id('event'), ...common, part });
    const doneItem = { ...item, status: 'completed', content: [audio ? { type: 'output_audio', transcript: text } : { type: 'output_text', text }] };
    send({ type: 'response.output_item.done', event_id: id('event'), response_id: responseId, output_index: 0, item: doneItem });
    await sleep(2);
    send({ type: 'response.done', event_id: id('event'), response: { ...response, status: 'completed', output: [doneItem], usage: realtimeUsage(usage) } });
  }

  /** The rest of a response that calls a function: its item, the arguments in pieces, then response.done. */
  async function callFunction(send: (event: object) => void, response: { id: string }, itemId: string, usage: FakeRealtimeUsage, call: { name: string; arguments: string }): Promise<void> {
    const callId = `call_${randomBytes(12).toString('base64url')}`;
    const item = { id: itemId, type: 'function_call', status: 'in_progress', name: call.name, call_id: callId, arguments: '' };
    const common = { response_id: response.id, item_id: itemId, output_index: 0, call_id: callId };
    send({ type: 'response.output_item.added', event_id: id('event'), response_id: response.id, output_index: 0, item });
    await sleep(3);
    const pieces = argumentPieces(call.arguments);
    for (let i = 0; i < pieces.length; i++) {
      send({ type: 'response.function_call_arguments.delta', event_id: id('event'), ...common, delta: pieces[i] });
      // Uneven, as the text: some deltas leave together, some a few milliseconds apart.
      if (i % 2 === 1) await sleep(1 + (i % 3) * 4);
    }
    send({ type: 'response.function_call_arguments.done', event_id: id('event'), ...common, name: call.name, arguments: call.arguments });
    const doneItem = { ...item, status: 'completed', arguments: call.arguments };
    send({ type: 'response.output_item.done', event_id: id('event'), response_id: response.id, output_index: 0, item: doneItem });
    await sleep(2);
    send({ type: 'response.done', event_id: id('event'), response: { ...response, status: 'completed', output: [doneItem], usage: realtimeUsage(usage) } });
  }

  return {
    url: await listenOnLoopback(server),
    refused,
    sessions,
    behaviour,
    sendBinary: (data) => {
      for (const ws of open) ws.send(data, { binary: true });
    },
    closeSessions: (code, reason) => {
      for (const ws of open) ws.close(code, reason);
    },
    freezeSessions: () => {
      for (const ws of open) {
        ws.pause();
        frozen.add(ws);
      }
    },
    reset: () => {
      for (const ws of frozen) ws.terminate();
      frozen.clear();
      sessions.length = 0;
      refused.length = 0;
      behaviour.responses = defaultRealtimeResponses();
      delete behaviour.model;
      delete behaviour.closeAfterResponses;
      delete behaviour.stallResponses;
      delete behaviour.toolCall;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of open) ws.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
