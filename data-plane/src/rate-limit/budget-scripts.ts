// Lua scripts run atomically by Redis: admission is one round trip that checks and reserves against
// all three budgets of a window at once, so proxies sharing the budget can never both take the last tokens.
//
// Besides the shared counters (fields p, c, t), each proxy process keeps its own contribution to a
// window in the same hash (fields p:<ledger>, c:<ledger>). After any doubt — a command that timed out
// (did it land?), Redis restarted empty, usage counted locally while Redis was away — RECONCILE sets
// this proxy's contribution to what the proxy knows it to be and moves the shared counters by the
// difference. That is idempotent, so nothing is lost or counted twice whatever landed before.

/**
 * KEYS[1] window hash. ARGV: prompt, completion to reserve; limits for prompt, completion, total
 * (0 = unlimited); TTL seconds; ledger id.
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
redis.call('HINCRBY', KEYS[1], 'p:' .. ARGV[7], rp)
redis.call('HINCRBY', KEYS[1], 'c:' .. ARGV[7], rc)
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1, p, c, t, ''}
`;

/** A reservation replaced by the reported usage. KEYS[1] window hash. ARGV: dp, dc, TTL seconds, ledger id. */
export const APPLY_SCRIPT = `
redis.call('HINCRBY', KEYS[1], 'p', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'c', ARGV[2])
redis.call('HINCRBY', KEYS[1], 't', tonumber(ARGV[1]) + tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'p:' .. ARGV[4], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'c:' .. ARGV[4], ARGV[2])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

/**
 * KEYS[1] window hash. ARGV: ledger id, this proxy's whole prompt and completion contribution to the
 * window, TTL seconds. Returns {dp, dc}: how far the shared counters moved.
 */
export const RECONCILE_SCRIPT = `
local fp = 'p:' .. ARGV[1]
local fc = 'c:' .. ARGV[1]
local dp = tonumber(ARGV[2]) - tonumber(redis.call('HGET', KEYS[1], fp) or '0')
local dc = tonumber(ARGV[3]) - tonumber(redis.call('HGET', KEYS[1], fc) or '0')
if dp ~= 0 or dc ~= 0 then
  redis.call('HINCRBY', KEYS[1], 'p', dp)
  redis.call('HINCRBY', KEYS[1], 'c', dc)
  redis.call('HINCRBY', KEYS[1], 't', dp + dc)
  redis.call('HSET', KEYS[1], fp, ARGV[2], fc, ARGV[3])
end
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return {dp, dc}
`;
