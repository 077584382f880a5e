import { WebSocket } from 'ws';
import { openAiRealtime } from '../providers/shared/openai-realtime';
import { MessageRelay, PeerLiveness, type RelaySink, type RelaySource, splitProtocols } from './realtime-session';

/** A receiving side whose writes complete when the test says so. */
class SlowSink implements RelaySink {
  readyState: number = WebSocket.OPEN;
  readonly sent: Array<{ data: Buffer; binary: boolean }> = [];
  private readonly callbacks: Array<() => void> = [];
  send(data: Buffer, options: { binary: boolean }, done: () => void): void {
    this.sent.push({ data, binary: options.binary });
    this.callbacks.push(done);
  }
  /** Completes the oldest `n` writes. */
  write(n: number): void {
    for (const done of this.callbacks.splice(0, n)) done();
  }
}

function source(): RelaySource & { log: string[] } {
  const log: string[] = [];
  return { log, pause: () => log.push('pause'), resume: () => log.push('resume') };
}

describe('MessageRelay', () => {
  it('passes messages unchanged with their type, and pauses the sender while more than the high-water mark is unwritten', () => {
    const from = source();
    const to = new SlowSink();
    const relay = new MessageRelay(from, to, 100, 40);
    relay.pass(Buffer.alloc(60, 1), false);
    relay.pass(Buffer.alloc(30, 2), true);
    expect(from.log).toEqual([]);
    relay.pass(Buffer.alloc(30, 3), true);
    expect(relay.buffered).toBe(120);
    expect(from.log).toEqual(['pause']);
    relay.pass(Buffer.alloc(10, 4), false); // already paused: not paused twice
    expect(from.log).toEqual(['pause']);
    to.write(1); // 70 left: above the low-water mark
    expect(from.log).toEqual(['pause']);
    to.write(2); // 10 left
    expect(from.log).toEqual(['pause', 'resume']);
    expect(to.sent.map((m) => [m.data[0], m.data.length, m.binary])).toEqual([[1, 60, false], [2, 30, true], [3, 30, true], [4, 10, false]]);
  });

  it('drops what arrives once the receiving side is closing', () => {
    const to = new SlowSink();
    to.readyState = WebSocket.CLOSING;
    const relay = new MessageRelay(source(), to);
    relay.pass(Buffer.from('late'), false);
    expect(to.sent).toEqual([]);
    expect(relay.buffered).toBe(0);
  });
});

describe('PeerLiveness', () => {
  /** Ends `periods` keep-alive periods; `heard[i]` says whether the peer sent something during period i. Returns the pings and the period it was found gone in. */
  function run(heard: boolean[]): { pings: number[]; goneAt: number | null } {
    const live = new PeerLiveness();
    const pings: number[] = [];
    for (let i = 0; i < heard.length; i++) {
      if (heard[i]) live.heardFrom();
      if (live.periodEnded(() => pings.push(i))) return { pings, goneAt: i };
    }
    return { pings, goneAt: null };
  }

  it('a peer that keeps talking is never pinged', () => {
    expect(run([true, true, true, true])).toEqual({ pings: [], goneAt: null });
  });

  it('a silent period gets a ping; an answer in the next period keeps the peer, and the next silent period gets another', () => {
    // The first period counts as heard (the session just opened).
    expect(run([false, false, true, false, true])).toEqual({ pings: [1, 3], goneAt: null });
  });

  it('an answer in the second period after the ping still keeps the peer (a late tick may come before the pong is read)', () => {
    expect(run([false, false, false, true, false, false])).toEqual({ pings: [1, 4], goneAt: null });
  });

  it('a peer that answers nothing for two whole periods after its ping is gone', () => {
    expect(run([false, false, false, false, true])).toEqual({ pings: [1], goneAt: 3 });
  });
});

describe('splitProtocols', () => {
  it('takes the browser key out of the offered subprotocols and keeps the rest in order', () => {
    expect(splitProtocols('realtime, openai-insecure-api-key.tgk_abc, openai-beta.realtime-v1', openAiRealtime)).toEqual({ forwarded: ['realtime', 'openai-beta.realtime-v1'], key: 'tgk_abc' });
    expect(splitProtocols(undefined, openAiRealtime)).toEqual({ forwarded: [], key: null });
  });
});
