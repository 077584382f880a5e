// Lua scripts run atomically by Redis. Admission is one round trip that checks and reserves against
// every budget that applies to a request (the service's budget and the connection's quota: both
// hashes carry the service's hash tag, so they live in one Cluster slot) and all three dimensions of
// each, so proxies sharing a budget can never both take the last tokens, and a request refused by
// one budget takes nothing from the others.
//
// Fields of one window hash:
// - p, c, t: the tokens used in the window (reserved, then corrected by the reported usage).
// - p:<ledger>, c:<ledger>: one proxy process's contribution to p and c. After any doubt — a command
//   that timed out (did it land?), Redis restarted empty, usage counted while Redis was away —
//   RECONCILE sets this proxy's contribution to what the proxy knows it to be and moves the shared
//   counters by the difference. That is idempotent, so nothing is lost or counted twice.
// - lp:<ledger>, lc:<ledger>, lt:<ledger>: this proxy's lease — tokens of an enforced budget set
//   aside for it, which only it may spend, and the only tokens it may spend while Redis is away —
//   and LP, LC, LT: the sum of every proxy's lease. Admission never lets used + leases exceed a limit
//   except by a proxy spending its own lease, so whatever proxies admit while Redis is away stays
//   within the budget (ADR 011).

/**
 * Lua shared by the scripts that hand out leases: tops this proxy's lease of one dimension up towards
 * its target with at most half of what is still free, and never past the cap of all leases together
 * (near the end of a window at most the cap is set aside); a lease above its target shrinks to it.
 * Returns the proxy's lease and the sum of all leases.
 */
const TOP_UP_LEASE = `
-- Leases handed out under a larger limit (the budget was lowered since) are cut to the target under
-- the current one. This proxy's own lease first. And when all leases of a dimension together hold more
-- than the cap of the current limit, every proxy's lease of it: each proxy cuts its own lease the same
-- way when it sees the new limit (TokenBudget.windowOf), before it spends any of it. Without this, a
-- proxy idle since the change would go on holding tokens of the lowered budget, and every other proxy
-- be refused while the budget still has room. Returns this proxy's lease and the sum of all leases.
local function fit_leases(key, d, ledger, own, leased, target, cap)
  local prefix = ({'lp:', 'lc:', 'lt:'})[d]
  local total_field = ({'LP', 'LC', 'LT'})[d]
  if leased > cap then
    local fields = redis.call('HGETALL', key)
    local sum = 0
    for j = 1, #fields, 2 do
      if string.sub(fields[j], 1, 3) == prefix then
        local held = tonumber(fields[j + 1])
        if held > target then
          held = target
          redis.call('HSET', key, fields[j], held)
        end
        sum = sum + held
      end
    end
    redis.call('HSET', key, total_field, sum)
    return math.min(own, target), sum
  end
  if own > target then
    leased = leased - (own - target)
    redis.call('HSET', key, prefix .. ledger, target, total_field, leased)
    own = target
  end
  return own, leased
end

local function top_up_lease(limit, used, own, leased, target, cap)
  local top_up = math.min(target - own, cap - leased, math.floor(math.max(0, limit - used - leased) / 2))
  if own > target then top_up = target - own end
  if top_up > 0 or own > target then
    own = own + top_up
    leased = leased + top_up
  end
  return own, leased
end
`;

/**
 * KEYS: the window hash of each budget. ARGV[1], ARGV[2]: prompt and completion tokens to reserve;
 * ARGV[3]: ledger id; then 11 per key: limits for prompt, completion, total (0 = unlimited), shadow
 * (1 = counted, never refuses), TTL seconds, this proxy's lease targets for prompt, completion,
 * total, and the most all leases together may hold of prompt, completion, total.
 *
 * Returns {admitted 1|0, budget index (1-based) that refused — or, when admitted, the first shadow
 * budget that would have — or 0, its dimension or '', then for each key: p, c, t used after the
 * reservation (as they stand when refused), and this proxy's lease p, c, t}.
 */
export const RESERVE_SCRIPT = `${TOP_UP_LEASE}
local need = {tonumber(ARGV[1]), tonumber(ARGV[2])}
need[3] = need[1] + need[2]
local ledger = ARGV[3]
local used_fields = {'p', 'c', 't'}
local lease_fields = {'lp:' .. ledger, 'lc:' .. ledger, 'lt:' .. ledger}
local total_fields = {'LP', 'LC', 'LT'}
local names = {'prompt', 'completion', 'total'}
local budgets = {}
for i = 1, #KEYS do
  local base = 3 + (i - 1) * 11
  local v = redis.call('HMGET', KEYS[i], 'p', 'c', 't', lease_fields[1], lease_fields[2], lease_fields[3], 'LP', 'LC', 'LT')
  local b = {used = {}, own = {}, leased = {}, limit = {}, target = {}, cap = {}, shadow = ARGV[base + 4] == '1', ttl = ARGV[base + 5]}
  for d = 1, 3 do
    b.used[d] = tonumber(v[d] or '0')
    b.own[d] = tonumber(v[3 + d] or '0')
    b.leased[d] = tonumber(v[6 + d] or '0')
    b.limit[d] = tonumber(ARGV[base + d])
    b.target[d] = tonumber(ARGV[base + 5 + d])
    b.cap[d] = tonumber(ARGV[base + 8 + d])
    if not b.shadow and b.limit[d] > 0 then
      b.own[d], b.leased[d] = fit_leases(KEYS[i], d, ledger, b.own[d], b.leased[d], b.target[d], b.cap[d])
    end
  end
  budgets[i] = b
end
local function reply(admitted, index, dimension)
  local out = {admitted, index, dimension}
  for i = 1, #budgets do
    local b = budgets[i]
    for d = 1, 3 do out[#out + 1] = b.used[d] end
    for d = 1, 3 do out[#out + 1] = b.own[d] end
  end
  return out
end
local would, would_dimension = 0, ''
for i = 1, #budgets do
  local b = budgets[i]
  for d = 1, 3 do
    local limit = b.limit[d]
    if limit > 0 then
      if b.shadow then
        if would == 0 and b.used[d] + need[d] > limit then would, would_dimension = i, names[d] end
      elseif need[d] > math.max(0, limit - b.used[d] - b.leased[d]) + b.own[d] then
        return reply(0, i, names[d])
      end
    end
  end
end
for i = 1, #budgets do
  local b = budgets[i]
  local key = KEYS[i]
  for d = 1, 3 do b.used[d] = redis.call('HINCRBY', key, used_fields[d], need[d]) end
  redis.call('HINCRBY', key, 'p:' .. ledger, need[1])
  redis.call('HINCRBY', key, 'c:' .. ledger, need[2])
  if not b.shadow then
    for d = 1, 3 do
      local limit = b.limit[d]
      if limit > 0 then
        -- Free tokens first; what they cannot cover comes out of this proxy's lease.
        local free_before = math.max(0, limit - (b.used[d] - need[d]) - b.leased[d])
        local draw = math.max(0, need[d] - free_before)
        local own = b.own[d] - draw
        local leased = b.leased[d] - draw
        own, leased = top_up_lease(limit, b.used[d], own, leased, b.target[d], b.cap[d])
        if own ~= b.own[d] then redis.call('HSET', key, lease_fields[d], own, total_fields[d], leased) end
        b.own[d] = own
        b.leased[d] = leased
      end
    end
  end
  redis.call('EXPIRE', key, b.ttl)
end
return reply(1, would, would_dimension)
`;

/**
 * What this proxy did in one window since its last word to Redis, applied at once (one command per
 * window every few milliseconds, however many requests it covers): tokens admitted from its lease and
 * reservations replaced by the reported usage. Then its lease is topped up (enforced budgets).
 *
 * KEYS[1]: the window hash. ARGV: ledger id; dp, dc: change of the used prompt and completion tokens;
 * the lease drawn for prompt, completion, total (tokens admitted locally move from the lease to used,
 * so used + leases is unchanged); TTL seconds; enforced (1|0); limits for prompt, completion, total
 * (0 = unlimited); this proxy's lease targets; the most all leases together may hold.
 *
 * Returns {p, c, t used, this proxy's lease p, c, t}.
 */
export const FLUSH_SCRIPT = `${TOP_UP_LEASE}
local key = KEYS[1]
local ledger = ARGV[1]
local dp = tonumber(ARGV[2])
local dc = tonumber(ARGV[3])
if dp ~= 0 or dc ~= 0 then
  redis.call('HINCRBY', key, 'p', dp)
  redis.call('HINCRBY', key, 'c', dc)
  redis.call('HINCRBY', key, 't', dp + dc)
  redis.call('HINCRBY', key, 'p:' .. ledger, dp)
  redis.call('HINCRBY', key, 'c:' .. ledger, dc)
end
local lease_fields = {'lp:' .. ledger, 'lc:' .. ledger, 'lt:' .. ledger}
local total_fields = {'LP', 'LC', 'LT'}
local v = redis.call('HMGET', key, 'p', 'c', 't', lease_fields[1], lease_fields[2], lease_fields[3], 'LP', 'LC', 'LT')
local out = {}
local own_out = {}
for d = 1, 3 do
  local used = tonumber(v[d] or '0')
  local own = tonumber(v[3 + d] or '0')
  local leased = tonumber(v[6 + d] or '0')
  local limit = tonumber(ARGV[8 + d])
  if ARGV[8] == '1' and limit > 0 then
    own, leased = fit_leases(key, d, ledger, own, leased, tonumber(ARGV[11 + d]), tonumber(ARGV[14 + d]))
    local drawn = math.max(0, math.min(tonumber(ARGV[3 + d]), own))
    local new_own, new_leased = top_up_lease(limit, used, own - drawn, leased - drawn, tonumber(ARGV[11 + d]), tonumber(ARGV[14 + d]))
    if new_own ~= own then redis.call('HSET', key, lease_fields[d], new_own, total_fields[d], new_leased) end
    own = new_own
  end
  out[d] = used
  own_out[d] = own
end
if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[7]) end
return {out[1], out[2], out[3], own_out[1], own_out[2], own_out[3]}
`;

/**
 * KEYS[1] window hash. ARGV: ledger id, this proxy's whole prompt and completion contribution to the
 * window, its lease for prompt, completion, total, TTL seconds. Sets both (moving the shared counters
 * and the lease totals by the difference) and returns {dp, dc}: how far the shared counters moved.
 */
export const RECONCILE_SCRIPT = `
local ledger = ARGV[1]
local key = KEYS[1]
local v = redis.call('HMGET', key, 'p:' .. ledger, 'c:' .. ledger, 'lp:' .. ledger, 'lc:' .. ledger, 'lt:' .. ledger)
local dp = tonumber(ARGV[2]) - tonumber(v[1] or '0')
local dc = tonumber(ARGV[3]) - tonumber(v[2] or '0')
if dp ~= 0 or dc ~= 0 then
  redis.call('HINCRBY', key, 'p', dp)
  redis.call('HINCRBY', key, 'c', dc)
  redis.call('HINCRBY', key, 't', dp + dc)
  redis.call('HSET', key, 'p:' .. ledger, ARGV[2], 'c:' .. ledger, ARGV[3])
end
local lease_fields = {'lp:', 'lc:', 'lt:'}
local total_fields = {'LP', 'LC', 'LT'}
for d = 1, 3 do
  local dl = tonumber(ARGV[3 + d]) - tonumber(v[2 + d] or '0')
  if dl ~= 0 then
    redis.call('HINCRBY', key, total_fields[d], dl)
    redis.call('HSET', key, lease_fields[d] .. ledger, ARGV[3 + d])
  end
end
if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, ARGV[7]) end
return {dp, dc}
`;
