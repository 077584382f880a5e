import type { ObservedUsage, ResponseObserver } from '../providers/usage-accounting';
import { clientOrigin } from './forwarded-headers';
import { MAX_REWRITTEN_BODY_BYTES, UrlRewritingObserver } from './url-rewriting-observer';

/** An observer that forwards every chunk as it came and remembers what it saw. */
class Recording implements ResponseObserver {
  readonly seen: Buffer[] = [];
  write(chunk: Buffer): Buffer {
    this.seen.push(chunk);
    return chunk;
  }
  flush(): Buffer {
    return Buffer.alloc(0);
  }
  result(): ObservedUsage {
    return { usage: null, completionText: '', complete: true };
  }
}

const PROVIDER = 'https://api.anthropic.com';
const toProxy = (url: string) => (url.startsWith(`${PROVIDER}/`) ? `https://gw.example/acme/claude${url.slice(PROVIDER.length)}` : null);

function relay(chunks: string[]): { forwarded: string; inner: Recording } {
  const inner = new Recording();
  const observer = new UrlRewritingObserver(inner, ['results_url'], toProxy);
  const out = chunks.map((chunk) => observer.write(Buffer.from(chunk)));
  out.push(observer.flush());
  return { forwarded: Buffer.concat(out).toString(), inner };
}

describe('UrlRewritingObserver', () => {
  it('points each URL member inside the upstream at the proxy and keeps every other byte, however the body was split', () => {
    const body = `{"data": [ {"id":"msgbatch_1","results_url" : "${PROVIDER}/v1/messages/batches/msgbatch_1/results"}, {"id":"msgbatch_2","results_url":null}, {"id":"msgbatch_3","results_url":"https://elsewhere.example/r?x=1"} ],\n "note":"\\"results_url\\": \\"${PROVIDER}/x\\"", "has_more":false}`;
    const expected = body.replace(`"${PROVIDER}/v1/messages/batches/msgbatch_1/results"`, '"https://gw.example/acme/claude/v1/messages/batches/msgbatch_1/results"');
    for (const at of [1, 17, 40, 77, body.length - 3]) {
      const { forwarded, inner } = relay([body.slice(0, at), body.slice(at)]);
      expect(forwarded).toBe(expected);
      // The inner observer (metering) saw the provider's bytes.
      expect(Buffer.concat(inner.seen).toString()).toBe(body);
    }
  });

  it('reads an escaped URL as JSON and writes the new one as JSON', () => {
    const { forwarded } = relay([`{"results_url":"${PROVIDER}\\/v1\\/messages\\/batches\\/b\\/results"}`]);
    expect(JSON.parse(forwarded)).toEqual({ results_url: 'https://gw.example/acme/claude/v1/messages/batches/b/results' });
  });

  it('forwards a body larger than it holds unchanged, from the moment it outgrows the limit', () => {
    const big = `{"results_url":"${PROVIDER}/r","pad":"${'x'.repeat(MAX_REWRITTEN_BODY_BYTES)}"}`;
    const { forwarded } = relay([big.slice(0, 100), big.slice(100)]);
    expect(forwarded).toBe(big);
  });
});

describe('clientOrigin', () => {
  it('is the connection’s scheme and Host, or what a load balancer in front forwarded', () => {
    expect(clientOrigin({ host: 'proxy:8080' }, false)).toBe('http://proxy:8080');
    expect(clientOrigin({ host: 'proxy:8443' }, true)).toBe('https://proxy:8443');
    expect(clientOrigin({ ':authority': 'proxy.internal' } as never, true)).toBe('https://proxy.internal');
    expect(clientOrigin({ host: '10.0.0.5:8080', 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'ai.example.com' }, false)).toBe('https://ai.example.com');
    expect(clientOrigin({ host: '[::1]:8080' }, false)).toBe('http://[::1]:8080');
  });

  it('is null for a Host that is not one (no URL is built from it)', () => {
    expect(clientOrigin({ host: 'evil.example/path?' }, false)).toBeNull();
    expect(clientOrigin({}, false)).toBeNull();
  });
});
