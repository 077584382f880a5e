// UsageDelivery and UsageSpool against the real Redis: each test spools under its own key prefix.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { UsageBatchMessage } from '../config-stream/wire-types';
import { MAX_BATCHES_IN_MEMORY, UsageDelivery } from './usage-delivery';
import { MAX_SPOOL_AGE_MS, UsageSpool } from './usage-spool';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const UNREACHABLE_URL = 'redis://127.0.0.1:1';
const ENVIRONMENT = 'production';
const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

const logger = pino({ level: 'silent' });
const inspector = new Redis(REDIS_URL);
const spools: UsageSpool[] = [];
const prefixes: string[] = [];

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(spools.splice(0).map((spool) => spool.close()));
  for (const prefix of prefixes.splice(0)) await inspector.del(spoolKey(prefix));
});

afterAll(() => {
  inspector.disconnect();
});

function spoolKey(prefix: string): string {
  return `${prefix}:usage-spool:${ENVIRONMENT}`;
}

function uniquePrefix(): string {
  const prefix = `test-spool-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
}

/** A settable clock shared by the spools of a test. */
function clock(start = T0): { now: () => number; set: (ms: number) => void } {
  let now = start;
  return {
    now: () => now,
    set: (ms) => {
      now = ms;
    },
  };
}

function spool(options: { keyPrefix: string; proxyId?: string; now?: () => number; redisUrl?: string }): UsageSpool {
  const instance = new UsageSpool({ redisUrl: options.redisUrl ?? REDIS_URL, keyPrefix: options.keyPrefix, environment: ENVIRONMENT, proxyId: options.proxyId ?? 'proxy-a', logger, now: options.now });
  spools.push(instance);
  return instance;
}

/** The spool's connection is up (commands are not queued while it connects: they fail at once). */
async function connected(instance: UsageSpool): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    try {
      await instance.unacknowledged(Number.MAX_SAFE_INTEGER);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error('redis not ready');
}

let batchCounter = 0;
function batch(): UsageBatchMessage {
  batchCounter += 1;
  return {
    batch_id: `proxy-a:cafe:${batchCounter}`,
    records: [
      {
        service_id: 'svc-1',
        connection_id: 'conn-1',
        organization_id: 'org-1',
        project_id: 'prj-1',
        operation: 'chat_completions',
        request_model: 'gpt-4o',
        response_model: 'gpt-4o-2024-08-06',
        window_unit: 'MINUTE',
        window_start: '2026-12-01T10:00:00.000Z',
        prompt_tokens: '10',
        completion_tokens: '5',
        total_tokens: '15',
        cached_prompt_read_tokens: '0',
        cached_prompt_write_tokens: '0',
        reasoning_tokens: '0',
        requests: '1',
        errors_4xx: '0',
        errors_5xx: '0',
        would_have_refused: '0',
      },
    ],
  };
}

async function spooledIds(prefix: string): Promise<string[]> {
  return (await inspector.hkeys(spoolKey(prefix))).sort();
}

describe('UsageDelivery with a Redis spool', () => {
  it('keeps a delivered batch in the spool until the control plane acknowledges it', async () => {
    const prefix = uniquePrefix();
    const usageSpool = spool({ keyPrefix: prefix, now: clock().now });
    await connected(usageSpool);
    const delivery = new UsageDelivery({ spool: usageSpool, logger });
    const sent: UsageBatchMessage[] = [];
    delivery.attach((sentBatch) => sent.push(sentBatch));
    const first = batch();
    delivery.deliver(first);
    expect(sent).toEqual([first]); // handed to the stream at once, not after the spool write
    await delivery.settled();
    expect(await spooledIds(prefix)).toEqual([first.batch_id]);
    expect(JSON.parse((await inspector.hget(spoolKey(prefix), first.batch_id)) ?? 'null')).toEqual({ spooledAt: T0, proxyId: 'proxy-a', batch: first });
    delivery.acknowledged(first.batch_id);
    await delivery.settled();
    expect(await spooledIds(prefix)).toEqual([]);
  });

  it('leaves nothing behind for a batch acknowledged before its spool write finished', async () => {
    const prefix = uniquePrefix();
    const usageSpool = spool({ keyPrefix: prefix });
    await connected(usageSpool);
    // The write is held back until the acknowledgement is in: a removal that did not wait for it
    // would run first and find nothing, and the write would then leave the batch behind for good.
    const write = usageSpool.put.bind(usageSpool);
    let releaseWrite!: () => void;
    const writeHeld = new Promise<void>((resolve) => {
      releaseWrite = resolve;
    });
    jest.spyOn(usageSpool, 'put').mockImplementation(async (held) => {
      await writeHeld;
      await write(held);
    });
    const delivery = new UsageDelivery({ spool: usageSpool, logger });
    delivery.attach(() => undefined);
    const quick = batch();
    delivery.deliver(quick);
    delivery.acknowledged(quick.batch_id);
    releaseWrite();
    await delivery.settled();
    expect(await spooledIds(prefix)).toEqual([]);
  });

  it('holds batches delivered before the stream exists and hands them over when it attaches', async () => {
    const prefix = uniquePrefix();
    const usageSpool = spool({ keyPrefix: prefix });
    await connected(usageSpool);
    const delivery = new UsageDelivery({ spool: usageSpool, logger });
    const early = [batch(), batch()];
    for (const each of early) delivery.deliver(each);
    const sent: UsageBatchMessage[] = [];
    delivery.attach((sentBatch) => sent.push(sentBatch));
    expect(sent).toEqual(early);
    await delivery.settled();
    expect(await spooledIds(prefix)).toEqual(early.map((each) => each.batch_id).sort());
  });

  it('retries a batch Redis did not take at the next delivery', async () => {
    const prefix = uniquePrefix();
    const usageSpool = spool({ keyPrefix: prefix });
    await connected(usageSpool);
    const put = jest.spyOn(usageSpool, 'put').mockRejectedValueOnce(new Error('Connection is closed.'));
    const delivery = new UsageDelivery({ spool: usageSpool, logger });
    delivery.attach(() => undefined);
    const missed = batch();
    delivery.deliver(missed);
    await delivery.settled();
    expect(await spooledIds(prefix)).toEqual([]);
    const next = batch();
    delivery.deliver(next);
    await delivery.settled();
    expect(await spooledIds(prefix)).toEqual([missed.batch_id, next.batch_id].sort());
    expect(put).toHaveBeenCalledTimes(3);
  });

  it('re-sends the orphans of any proxy once they are old enough', async () => {
    const prefix = uniquePrefix();
    const time = clock();
    const mine = spool({ keyPrefix: prefix, proxyId: 'proxy-a', now: time.now });
    const other = spool({ keyPrefix: prefix, proxyId: 'proxy-b', now: time.now });
    await Promise.all([connected(mine), connected(other)]);
    const left = batch();
    await other.put(left); // proxy-b died before its batch was acknowledged
    time.set(T0 + 10_000);
    const recent = batch();
    await mine.put(recent);
    time.set(T0 + 30_000);
    const delivery = new UsageDelivery({ spool: mine, logger, orphanAgeMs: 30_000 });
    const sent: UsageBatchMessage[] = [];
    delivery.attach((sentBatch) => sent.push(sentBatch));
    delivery.adoptOrphans();
    await delivery.settled();
    expect(sent).toEqual([left]);
  });
});

describe('a proxy that reaches the control plane before its own Redis connection is up', () => {
  it('still re-sends the orphans: the spool read waits for the connection instead of failing', async () => {
    const prefix = uniquePrefix();
    const other = spool({ keyPrefix: prefix, proxyId: 'proxy-gone' });
    await connected(other);
    const left = batch();
    await other.put(left);
    // Just started: its client is still connecting (a command now would fail at once).
    const fresh = spool({ keyPrefix: prefix, proxyId: 'proxy-new' });
    const delivery = new UsageDelivery({ spool: fresh, logger, orphanAgeMs: 0 });
    const sent: UsageBatchMessage[] = [];
    delivery.attach((sentBatch) => sent.push(sentBatch));
    delivery.adoptOrphans();
    await delivery.settled();
    expect(sent).toEqual([left]);
  });

  it('gives up after the connect timeout when Redis cannot be reached, and the read fails', async () => {
    const unreachable = spool({ keyPrefix: uniquePrefix(), redisUrl: UNREACHABLE_URL });
    await expect(unreachable.unacknowledged(0)).rejects.toThrow();
  });
});

describe('UsageSpool.unacknowledged', () => {
  it('returns the batches spooled at least minAge ago by any proxy', async () => {
    const prefix = uniquePrefix();
    const time = clock();
    const a = spool({ keyPrefix: prefix, proxyId: 'proxy-a', now: time.now });
    const b = spool({ keyPrefix: prefix, proxyId: 'proxy-b', now: time.now });
    await Promise.all([connected(a), connected(b)]);
    const old = batch();
    await a.put(old);
    time.set(T0 + 60_000);
    const otherOld = batch();
    await b.put(otherOld);
    time.set(T0 + 119_000);
    const fresh = batch();
    await b.put(fresh);
    time.set(T0 + 120_000);
    const found = await a.unacknowledged(60_000);
    expect(found.map((each) => each.batch_id).sort()).toEqual([old.batch_id, otherOld.batch_id].sort());
    expect(found.find((each) => each.batch_id === old.batch_id)).toEqual(old);
    expect((await b.unacknowledged(0)).map((each) => each.batch_id).sort()).toEqual([old.batch_id, otherOld.batch_id, fresh.batch_id].sort());
  });

  it('drops entries it cannot read and those spooled too long to re-send safely', async () => {
    const prefix = uniquePrefix();
    const time = clock();
    const usageSpool = spool({ keyPrefix: prefix, now: time.now });
    await connected(usageSpool);
    const error = jest.spyOn(logger, 'error');
    const tooOld = batch();
    await usageSpool.put(tooOld);
    time.set(T0 + 1000);
    const justOldEnough = batch();
    await usageSpool.put(justOldEnough);
    await inspector.hset(spoolKey(prefix), 'garbage', 'not json', 'half', JSON.stringify({ spooledAt: T0, batch: { batch_id: 'half' } }));
    time.set(T0 + 1000 + MAX_SPOOL_AGE_MS);
    expect(await usageSpool.unacknowledged(0)).toEqual([justOldEnough]);
    expect(await spooledIds(prefix)).toEqual([justOldEnough.batch_id]);
    expect(error).toHaveBeenCalledWith({ batches: 3 }, expect.stringContaining('dropped'));
  });
});

describe('UsageDelivery with Redis unreachable', () => {
  it('still hands every batch to the stream, and nothing throws', async () => {
    const usageSpool = spool({ keyPrefix: uniquePrefix(), redisUrl: UNREACHABLE_URL });
    const delivery = new UsageDelivery({ spool: usageSpool, logger });
    const sent: UsageBatchMessage[] = [];
    delivery.attach((sentBatch) => sent.push(sentBatch));
    const batches = [batch(), batch(), batch()];
    for (const each of batches) delivery.deliver(each);
    expect(sent).toEqual(batches);
    await delivery.settled();
    delivery.acknowledged(batches[0].batch_id);
    delivery.adoptOrphans();
    await delivery.settled();
    expect(sent).toEqual(batches);
    await expect(usageSpool.put(batch())).rejects.toThrow();
  });

  it('keeps at most MAX_BATCHES_IN_MEMORY batches waiting for Redis, dropping the oldest', async () => {
    const usageSpool = spool({ keyPrefix: uniquePrefix(), redisUrl: UNREACHABLE_URL });
    const delivery = new UsageDelivery({ spool: usageSpool, logger });
    delivery.attach(() => undefined);
    for (let i = 0; i < MAX_BATCHES_IN_MEMORY + 5; i += 1) delivery.deliver(batch());
    await delivery.settled();
    // White-box: the retry list is what would grow while Redis stays away.
    const waiting = (delivery as unknown as { unspooled: Map<string, UsageBatchMessage> }).unspooled;
    expect(waiting.size).toBe(MAX_BATCHES_IN_MEMORY);
  });

  it('without a spool, delivers from memory', async () => {
    const delivery = new UsageDelivery({ spool: null, logger });
    const early = batch();
    delivery.deliver(early);
    const sent: UsageBatchMessage[] = [];
    delivery.attach((sentBatch) => sent.push(sentBatch));
    const late = batch();
    delivery.deliver(late);
    delivery.acknowledged(early.batch_id);
    delivery.adoptOrphans();
    await delivery.settled();
    expect(sent).toEqual([early, late]);
  });
});
