// Lua run inside Redis, so each operation on the shared ledger is atomic across every process.
// Amounts are decimal strings added digit by digit: Lua numbers are doubles and would round
// atomic amounts above 2^53 (18-decimal tokens).
//
// Per budget (charge key) the ledger keeps:
//   <prefix>charge:<key>  ZSET  reservation id → time (ms), to find what a window passed over
//   <prefix>amount:<key>  HASH  reservation id → amount charged, for expiry and release
//   <prefix>sum:<key>     the running sum of those amounts, as a decimal string
// Reserve reads the sum instead of re-adding every amount, so its work is O(charges + expired
// spends), whatever the history. Every script that changes the ZSET/HASH changes the sum with it.
// Every process sharing a prefix must run this version: an older payfetch adds and drops spends
// without touching the sums. A budget written by one (no sum yet) gets its sum once, from its ZSET.

const decimalHelpers = `
local batch = 1000
local function trim(digits)
  local s = string.reverse(table.concat(digits)):gsub('^0+', '')
  if s == '' then return '0' end
  return s
end
local function add(a, b)
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry
    if i > 0 then d = d + string.byte(a, i) - 48 end
    if j > 0 then d = d + string.byte(b, j) - 48 end
    out[#out + 1] = string.char(48 + d % 10)
    carry = math.floor(d / 10)
    i = i - 1
    j = j - 1
  end
  return trim(out)
end
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
-- a - b for non-negative decimal strings.
local function sub(a, b)
  -- Never below zero: a sum is the total of the amounts still in its budget, so b > a means the sum
  -- drifted (a key edited by hand, an older payfetch in the fleet). Clamp to 0 rather than return
  -- garbage; the sum is dropped, and so reset, once its budget holds no spend.
  if greater(b, a) then return '0' end
  local out, borrow, i, j = {}, 0, #a, #b
  while i > 0 do
    local d = string.byte(a, i) - 48 - borrow
    if j > 0 then d = d - (string.byte(b, j) - 48) end
    borrow = 0
    if d < 0 then
      d = d + 10
      borrow = 1
    end
    out[#out + 1] = string.char(48 + d)
    i = i - 1
    j = j - 1
  end
  return trim(out)
end
local function budgetKeys(prefix, key)
  return prefix .. 'charge:' .. key, prefix .. 'amount:' .. key, prefix .. 'sum:' .. key
end
-- Writes a budget's sum; with no spend left in the budget, no sum either (and any drift is gone).
local function saveSum(set, sumKey, sum)
  if redis.call('ZCARD', set) == 0 then
    redis.call('DEL', sumKey)
  else
    redis.call('SET', sumKey, sum)
  end
end
`

/**
 * ARGV: prefix, id, time, entry JSON, charges JSON ([{key, limit, amount, windowMs?}]).
 * Returns {1} when reserved, else {0, key, used, limit}.
 */
export const reserveScript = `${decimalHelpers}
-- The sum of what the budget's ZSET holds, added up once for a budget an older payfetch wrote.
local function rebuild(set, amounts)
  local sum, start = '0', 0
  while true do
    local ids = redis.call('ZRANGE', set, start, start + batch - 1)
    if #ids == 0 then return sum end
    for _, amount in ipairs(redis.call('HMGET', amounts, unpack(ids))) do
      if amount then sum = add(sum, amount) end
    end
    start = start + batch
  end
end
-- The budget's use at \`now\`: its sum, less the spends its window has passed over (dropped for good).
local function used(set, amounts, sumKey, cutoff)
  local stored = redis.call('GET', sumKey)
  local sum = stored or rebuild(set, amounts)
  if cutoff then
    -- In batches: unpack() takes at most a few thousand values.
    while true do
      local expired = redis.call('ZRANGEBYSCORE', set, '-inf', cutoff, 'LIMIT', 0, batch)
      if #expired == 0 then break end
      for _, amount in ipairs(redis.call('HMGET', amounts, unpack(expired))) do
        if amount then sum = sub(sum, amount) end
      end
      redis.call('ZREM', set, unpack(expired))
      redis.call('HDEL', amounts, unpack(expired))
    end
  end
  -- Saved even when the reservation is then refused: the pruning above has happened.
  if sum ~= stored then saveSum(set, sumKey, sum) end
  return sum
end

local prefix, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local charges = cjson.decode(ARGV[5])
for _, charge in ipairs(charges) do
  local set, amounts, sumKey = budgetKeys(prefix, charge.key)
  local cutoff = nil
  if charge.windowMs then cutoff = now - charge.windowMs end
  local sum = used(set, amounts, sumKey, cutoff)
  if greater(add(sum, charge.amount), charge.limit) then return {0, charge.key, sum, charge.limit} end
end
for _, charge in ipairs(charges) do
  local set, amounts, sumKey = budgetKeys(prefix, charge.key)
  local sum = redis.call('GET', sumKey) or '0'
  -- The id is stored once per budget: an amount it had there already (the same budget twice in one
  -- reservation, an id reserved again) is replaced, not added to.
  local previous = redis.call('HGET', amounts, id)
  if previous then sum = sub(sum, previous) end
  redis.call('ZADD', set, now, id)
  redis.call('HSET', amounts, id, charge.amount)
  redis.call('SET', sumKey, add(sum, charge.amount))
end
redis.call('HSET', prefix .. 'entries', id, ARGV[4])
return {1}
`

/**
 * ARGV: prefix, id, state, settled JSON ({spend, charges}) or ''. A released entry leaves every
 * budget it was charged to; a settled one replaces its spend and the amounts its budgets hold.
 */
export const setStateScript = `${decimalHelpers}
local prefix, id, state = ARGV[1], ARGV[2], ARGV[3]
local raw = redis.call('HGET', prefix .. 'entries', id)
if not raw then return 0 end
local entry = cjson.decode(raw)
entry.state = state
if ARGV[4] ~= '' then
  local settled = cjson.decode(ARGV[4])
  entry.spend = settled.spend
  entry.charges = settled.charges
  for _, charge in ipairs(settled.charges) do
    local set, amounts, sumKey = budgetKeys(prefix, charge.key)
    -- Only an amount still in the budget changes its sum; one a window dropped is gone already.
    local amount = redis.call('HGET', amounts, id)
    if amount then
      redis.call('HSET', amounts, id, charge.amount)
      local sum = redis.call('GET', sumKey)
      if sum then redis.call('SET', sumKey, add(sub(sum, amount), charge.amount)) end
    end
  end
end
if state == 'released' then
  for _, charge in ipairs(entry.charges) do
    local set, amounts, sumKey = budgetKeys(prefix, charge.key)
    -- Only an amount still in the budget comes off its sum: one a window dropped (or an earlier
    -- release took out) was subtracted then.
    local amount = redis.call('HGET', amounts, id)
    if amount then
      redis.call('ZREM', set, id)
      redis.call('HDEL', amounts, id)
      local sum = redis.call('GET', sumKey)
      -- No sum yet (a budget an older payfetch wrote): the next reserve adds up what is left.
      if sum then saveSum(set, sumKey, sub(sum, amount)) end
    end
  end
end
if state ~= 'unknown' then redis.call('HDEL', prefix .. 'pending', id) end
redis.call('HSET', prefix .. 'entries', id, cjson.encode(entry))
return 1
`
