// Lua scripts run atomically by Redis: admission is one round trip that checks and reserves against
// all three budgets of a window at once, so proxies sharing the budget can never both take the last tokens.

/**
 * KEYS[1] window hash (fields p, c, t). ARGV: prompt, completion to reserve; limits for prompt,
 * completion, total (0 = unlimited); TTL seconds.
 * Returns {admitted 1|0, p, c, t, refused dimension or ''} with the counters after the reservation
 * (or as they stand when refused).
 */
export const RESERVE_SCRIPT = `
local p = tonumber(redis.call('HGET', KEYS[1], 'p') or '0')
local c = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local rp = tonumber(ARGV[1])
local rc = tonumber(ARGV[2])
local lp = tonumber(ARGV[3])
local lc = tonumber(ARGV[4])
local lt = tonumber(ARGV[5])
local refused = ''
if lp > 0 and p + rp > lp then refused = 'prompt'
elseif lc > 0 and c + rc > lc then refused = 'completion'
elseif lt > 0 and t + rp + rc > lt then refused = 'total' end
if refused ~= '' then return {0, p, c, t, refused} end
p = redis.call('HINCRBY', KEYS[1], 'p', rp)
c = redis.call('HINCRBY', KEYS[1], 'c', rc)
t = redis.call('HINCRBY', KEYS[1], 't', rp + rc)
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1, p, c, t, ''}
`;

/**
 * Applies deltas (reservation → reported usage, or usage counted while Redis was away).
 * KEYS[1] window hash; KEYS[2] an idempotency marker ('' when none): a retried push whose first
 * attempt did land (a timeout hides that) is applied once. ARGV: dp, dc, dt, TTL seconds.
 */
export const APPLY_SCRIPT = `
if KEYS[2] ~= '' then
  if redis.call('SET', KEYS[2], '1', 'NX', 'EX', 86400) == false then return 0 end
end
redis.call('HINCRBY', KEYS[1], 'p', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'c', ARGV[2])
redis.call('HINCRBY', KEYS[1], 't', ARGV[3])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return 1
`;
