// Answers whose JSON names a URL the client follows with its consumer key (Anthropic's batch
// `results_url`, which the SDK fetches as it is given): the URL names the provider, so the client would
// send its consumer key there and never reach the results. The body is held to its end and each such
// member that points inside the service's upstream is made to point at the same resource through the
// proxy, as Location headers are (forwarded-headers.ts, proxiedLocation); every other byte is kept.
import type { ObservedUsage, ResponseObserver } from '../providers/usage-accounting';

/**
 * Largest body held for rewriting (batch objects and their lists are a few KB); a larger one is
 * forwarded as it is from there on.
 */
export const MAX_REWRITTEN_BODY_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

export class UrlRewritingObserver implements ResponseObserver {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** False once the body outgrew the limit: bytes pass as they come. */
  private holding = true;
  private readonly member: RegExp;

  /**
   * @param members the JSON member names whose string values are URLs (at any depth: a list holds them in `data[]`)
   * @param clientUrl the URL the client should follow instead, or null to leave it
   */
  constructor(
    private readonly inner: ResponseObserver,
    members: readonly string[],
    private readonly clientUrl: (url: string) => string | null,
  ) {
    // `"name"` then `:` then a JSON string. Outside a string a quote is never escaped, so a match is
    // a member name, never text inside another string.
    this.member = new RegExp(`("(?:${members.map(escapeRegExp).join('|')})"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*")`, 'g');
  }

  write(chunk: Buffer): Buffer {
    const out = this.inner.write(chunk);
    if (!this.holding) return out;
    this.held.push(out);
    this.heldBytes += out.length;
    if (this.heldBytes <= MAX_REWRITTEN_BODY_BYTES) return EMPTY;
    this.holding = false;
    const all = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    return all;
  }

  flush(): Buffer {
    const rest = this.inner.flush();
    if (!this.holding) return rest;
    this.holding = false;
    const body = Buffer.concat([...this.held, rest]);
    this.held = [];
    return this.rewrite(body);
  }

  drained(): Promise<void> | null {
    return this.inner.drained?.() ?? null;
  }

  result(): ObservedUsage {
    return this.inner.result();
  }

  private rewrite(body: Buffer): Buffer {
    const text = body.toString('utf8');
    let changed = false;
    const rewritten = text.replace(this.member, (whole, name: string, literal: string) => {
      let url: unknown;
      try {
        url = JSON.parse(literal);
      } catch {
        return whole;
      }
      const replacement = typeof url === 'string' ? this.clientUrl(url) : null;
      if (replacement === null) return whole;
      changed = true;
      return name + JSON.stringify(replacement);
    });
    return changed ? Buffer.from(rewritten, 'utf8') : body;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
