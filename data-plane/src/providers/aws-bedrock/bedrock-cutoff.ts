// Stream cut-off for Bedrock ConverseStream (AWS event-stream framing): a stream ended by the proxy
// closes as one that reached maxTokens — contentBlockStop for the block still open, messageStop with
// `stopReason: "max_tokens"`, metadata with the usage (the prompt as the proxy counts it: Bedrock
// reports none before metadata) and the latency. InvokeModelWithResponseStream carries model-native
// chunks whose closing differs per model vendor: it is not cut.
import type { Message } from '@smithy/eventstream-codec';
import { fromUtf8 } from '@smithy/util-utf8';
import type { CutoffStreamReader, CutoffTokens, StreamCutoff } from '../stream-cutoff';
import type { PreparedRequest } from '../usage-accounting';
import { bodyKind } from '../shared/content-type';
import { member, tokenCount } from '../shared/json-values';
import { converseDeltaText, payload } from './bedrock-usage';
import { EventStreamFramer } from './event-stream-framer';
import { eventStreamCodec, stringHeader } from './event-stream-observer';

class ConverseStreamCutoffReader implements CutoffStreamReader {
  readonly framer = new EventStreamFramer();
  readonly needsPromptTokens = true;
  /** The event last read, until accepted. */
  private lastType: string | null = null;
  private lastIndex: number | null = null;
  /** The content block receiving deltas and not stopped (text blocks have no contentBlockStart). */
  private openBlock: number | null = null;

  read(frame: Buffer): string {
    this.lastType = null;
    let message: Message;
    try {
      message = eventStreamCodec.decode(frame);
    } catch {
      return '';
    }
    if (stringHeader(message, ':message-type') !== 'event') return '';
    this.lastType = stringHeader(message, ':event-type');
    if (this.lastType !== 'contentBlockStart' && this.lastType !== 'contentBlockDelta' && this.lastType !== 'contentBlockStop') return '';
    const event = payload(message);
    this.lastIndex = tokenCount(member(event, 'contentBlockIndex'));
    return this.lastType === 'contentBlockDelta' ? converseDeltaText(member(event, 'delta')) : '';
  }

  accept(): void {
    if (this.lastType === 'contentBlockStart' || this.lastType === 'contentBlockDelta') this.openBlock = this.lastIndex;
    else if (this.lastType === 'contentBlockStop') this.openBlock = null;
  }

  closing(tokens: CutoffTokens, elapsedMs: number): Buffer {
    const frames: Uint8Array[] = [];
    if (this.openBlock !== null) frames.push(converseEvent('contentBlockStop', { contentBlockIndex: this.openBlock }));
    frames.push(converseEvent('messageStop', { stopReason: 'max_tokens' }));
    const { promptTokens, completionTokens } = tokens;
    if (promptTokens !== null) {
      frames.push(
        converseEvent('metadata', {
          usage: { inputTokens: promptTokens, outputTokens: completionTokens, totalTokens: promptTokens + completionTokens },
          metrics: { latencyMs: Math.max(0, Math.round(elapsedMs)) },
        }),
      );
    }
    return Buffer.concat(frames);
  }
}

/** One `:message-type: event` message of a ConverseStream response. */
function converseEvent(eventType: string, body: object): Uint8Array {
  return eventStreamCodec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(body)),
  });
}

export const bedrockStreamCutoff: StreamCutoff = {
  canCut: (prepared) => prepared.operation === 'converse_stream',
  open(_prepared: PreparedRequest, contentType: string | undefined): CutoffStreamReader | null {
    const kind = bodyKind(contentType);
    return kind === 'aws-eventstream' || kind === 'none' ? new ConverseStreamCutoffReader() : null;
  },
};
