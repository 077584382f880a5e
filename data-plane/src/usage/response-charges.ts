// What has been charged for each background Response (OpenAI Responses API, `background: true`),
// shared by every proxy of the environment in Redis. Such a response is billed once by the provider,
// but its final usage can reach the proxies several times: at the end of its creating stream, of each
// resumed stream (`GET /v1/responses/{id}?stream=true&starting_after=n`) and in each retrieval that
// finds it finished (`GET /v1/responses/{id}`). The first of them charges it; the others charge what
// is left, which is nothing (ADR 007, "Background responses").
import type { Logger } from 'pino';
import type { TokenUsage } from '../providers/usage-accounting';
import { tokenUsage } from '../providers/usage-accounting';
import { createRedisClient, type RedisClient } from '../redis/redis-connection';

export interface ResponseChargesOptions {
  /** One Redis or a cluster, as TokenBudgetOptions.redisUrl. */
  readonly redisUrl: string;
  /** Prefix of the keys (TOKENGATE_REDIS_NAMESPACE); default `tokengate`. */
  readonly keyPrefix?: string;
  readonly environment: string;
  readonly logger: Logger;
  /** How long a response's charge is remembered; default RESPONSE_CHARGE_TTL_SECONDS. */
  readonly ttlSeconds?: number;
}

/**
 * OpenAI keeps a stored Response for 30 days; a retrieval after its charge is forgotten would charge
 * it again, so the charge is remembered as long.
 */
export const RESPONSE_CHARGE_TTL_SECONDS = 30 * 24 * 3600;

/** The response ids the provider generates (`resp_` and hex); anything else is not remembered. */
const RESPONSE_ID = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * KEYS[1] the response's key; ARGV: 'final' or 'provisional', prompt, completion, TTL in seconds.
 * The key holds 'final' once the final usage was charged, or 'prompt:completion' charged so far
 * from streams cut before it (the proxy's counts). Returns {prompt, completion} to charge now:
 * - final: all of it the first time; minus what cut streams were charged before; 0 once final.
 * - provisional (a cut stream's count): charged and added up, unless the final usage was charged.
 */
const CHARGE_SCRIPT = `
local held = redis.call('GET', KEYS[1])
local prompt = tonumber(ARGV[2])
local completion = tonumber(ARGV[3])
if held == 'final' then return {0, 0} end
local heldPrompt, heldCompletion = 0, 0
if held then
  local p, c = string.match(held, '^(%d+):(%d+)$')
  heldPrompt, heldCompletion = tonumber(p) or 0, tonumber(c) or 0
end
if ARGV[1] == 'final' then
  redis.call('SET', KEYS[1], 'final', 'EX', ARGV[4])
  return {math.max(0, prompt - heldPrompt), math.max(0, completion - heldCompletion)}
end
redis.call('SET', KEYS[1], (heldPrompt + prompt) .. ':' .. (heldCompletion + completion), 'EX', ARGV[4])
return {prompt, completion}
`;

type ChargeCommand = (key: string, mode: 'final' | 'provisional', prompt: number, completion: number, ttl: number) => Promise<[number, number]>;

export class ResponseCharges {
  private readonly redis: RedisClient;
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(private readonly options: ResponseChargesOptions) {
    this.prefix = `${options.keyPrefix ?? 'tokengate'}:response-charge:${options.environment}:`;
    this.ttlSeconds = options.ttlSeconds ?? RESPONSE_CHARGE_TTL_SECONDS;
    this.redis = createRedisClient(options.redisUrl, {
      // Queued while connecting (a proxy just started), failed at once when a connection attempt fails.
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      commandTimeout: 1000,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
    });
    this.redis.on('error', () => undefined); // failures surface per command
    this.redis.defineCommand('tokengateChargeResponse', { numberOfKeys: 1, lua: CHARGE_SCRIPT });
  }

  /**
   * What to charge for `usage` of background response `responseId` of service `serviceId`: `final`
   * is the provider's usage (charged once, less what cut streams of it were charged), otherwise the
   * proxy's count of a stream cut before it (charged, and remembered). When Redis cannot tell,
   * `usage` itself: a response may then be charged twice, never left uncharged. Keyed by service too:
   * an upstream can only mark the ids of its own service as charged, never another tenant's.
   */
  async charge(serviceId: string, responseId: string, usage: TokenUsage, final: boolean): Promise<TokenUsage> {
    if (!RESPONSE_ID.test(responseId)) return usage;
    const command = (this.redis as unknown as { tokengateChargeResponse: ChargeCommand }).tokengateChargeResponse.bind(this.redis);
    try {
      const [prompt, completion] = await command(`${this.prefix}${serviceId}:${responseId}`, final ? 'final' : 'provisional', usage.promptTokens, usage.completionTokens, this.ttlSeconds);
      if (prompt === usage.promptTokens && completion === usage.completionTokens) return usage;
      // The details (cache reads, reasoning) belong to the first charge of the final usage.
      return tokenUsage(prompt, completion);
    } catch (error) {
      this.options.logger.warn({ service: serviceId, responseId, err: error instanceof Error ? error.message : String(error) }, 'could not check whether a background response was charged; charging what this request saw');
      return usage;
    }
  }

  close(): void {
    this.redis.disconnect();
  }
}
