// ResponseCharges against the test Redis: a background Response's final usage is charged once across
// proxies, less what streams of it cut before it were charged; without Redis, what a request saw.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { freePort } from '../../../test/support/free-port';
import { ResponseCharges } from './response-charges';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });
const opened: ResponseCharges[] = [];

/** Two proxies of one environment (one namespace per test file run). */
const namespace = `test-${randomBytes(4).toString('hex')}`;
function proxy(redisUrl = REDIS_URL): ResponseCharges {
  const charges = new ResponseCharges({ redisUrl, keyPrefix: namespace, environment: 'production', logger, ttlSeconds: 60 });
  opened.push(charges);
  return charges;
}
afterAll(() => {
  for (const charges of opened) charges.close();
});

const responseId = () => `resp_${randomBytes(8).toString('hex')}`;
const FINAL = { promptTokens: 50, completionTokens: 40, cachedReadTokens: 10, reasoningTokens: 5 };

describe('ResponseCharges', () => {
  const [a, b] = [proxy(), proxy()];

  it('charges the final usage the first time it is seen, on any proxy, and nothing after', async () => {
    const id = responseId();
    expect(await a.charge('svc', id, FINAL, true)).toEqual(FINAL);
    expect(await b.charge('svc', id, FINAL, true)).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(await a.charge('svc', id, FINAL, true)).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('subtracts what cut streams of the response were charged from its final usage', async () => {
    const id = responseId();
    expect(await a.charge('svc', id, { promptTokens: 12, completionTokens: 3 }, false)).toEqual({ promptTokens: 12, completionTokens: 3 });
    expect(await b.charge('svc', id, { promptTokens: 0, completionTokens: 7 }, false)).toEqual({ promptTokens: 0, completionTokens: 7 });
    expect(await b.charge('svc', id, FINAL, true)).toEqual({ promptTokens: 38, completionTokens: 30 });
    expect(await a.charge('svc', id, FINAL, true)).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('charges nothing for a cut stream of a response whose final usage was charged', async () => {
    const id = responseId();
    await a.charge('svc', id, FINAL, true);
    expect(await b.charge('svc', id, { promptTokens: 12, completionTokens: 3 }, false)).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('never charges below zero when a cut stream was counted above the final usage', async () => {
    const id = responseId();
    await a.charge('svc', id, { promptTokens: 60, completionTokens: 3 }, false);
    expect(await a.charge('svc', id, FINAL, true)).toEqual({ promptTokens: 0, completionTokens: 37 });
  });

  it('keeps the responses of each service apart', async () => {
    const id = responseId();
    expect(await a.charge('svc', id, FINAL, true)).toEqual(FINAL);
    expect(await b.charge('other-svc', id, FINAL, true)).toEqual(FINAL);
  });

  it('charges what the request saw when Redis cannot be reached', async () => {
    const away = proxy(`redis://127.0.0.1:${await freePort()}`);
    expect(await away.charge('svc', responseId(), FINAL, true)).toEqual(FINAL);
  });
});
