// Stream cut-off for Anthropic Messages streams: a stream ended by the proxy closes as one that reached
// max_tokens — content_block_stop for the block still open, message_delta with `stop_reason:
// "max_tokens"` and the output tokens, message_stop. The prompt needs no count: message_start
// reported it, and the usage observer keeps it.
import type { CutoffStreamReader, CutoffTokens, StreamCutoff } from '../stream-cutoff';
import type { PreparedRequest } from '../usage-accounting';
import { bodyKind } from '../shared/content-type';
import { member, parseJsonObject, stringMember, tokenCount } from '../shared/json-values';
import { SseFramer, sseEvent, sseFields } from '../shared/sse-frames';
import { anthropicDeltaText } from './anthropic-usage';

class MessagesCutoffReader implements CutoffStreamReader {
  readonly framer = new SseFramer();
  readonly needsPromptTokens = false;
  /** The event last read, until accepted. */
  private lastType: string | null = null;
  private lastIndex: number | null = null;
  /** The content block started (or receiving deltas) and not stopped. */
  private openBlock: number | null = null;

  read(frame: Buffer): string {
    this.lastType = null;
    const fields = sseFields(frame);
    if (fields === null) return '';
    const data = parseJsonObject(fields.data);
    this.lastType = stringMember(data, 'type') ?? fields.event ?? null;
    this.lastIndex = tokenCount(member(data, 'index'));
    return this.lastType === 'content_block_delta' ? anthropicDeltaText(member(data, 'delta')) : '';
  }

  accept(): void {
    if (this.lastType === 'content_block_start' || this.lastType === 'content_block_delta') this.openBlock = this.lastIndex;
    else if (this.lastType === 'content_block_stop') this.openBlock = null;
  }

  closing(tokens: CutoffTokens): Buffer {
    let text = this.openBlock === null ? '' : sseEvent({ type: 'content_block_stop', index: this.openBlock }, 'content_block_stop');
    text += sseEvent({ type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: tokens.completionTokens } }, 'message_delta');
    text += sseEvent({ type: 'message_stop' }, 'message_stop');
    return Buffer.from(text, 'utf8');
  }
}

export const anthropicStreamCutoff: StreamCutoff = {
  canCut: (prepared) => prepared.stream && prepared.operation === 'messages',
  open(_prepared: PreparedRequest, contentType: string | undefined): CutoffStreamReader | null {
    const kind = bodyKind(contentType);
    return kind === 'sse' || kind === 'none' ? new MessagesCutoffReader() : null;
  },
};
