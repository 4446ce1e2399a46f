// Lua run inside Redis, so each operation on the shared ledger is atomic across every process.
// Amounts are decimal strings added digit by digit: Lua numbers are doubles and would round
// atomic amounts above 2^53 (18-decimal tokens).
//
// Every script touches the same six keys, declared in KEYS and sharing one hash tag, so they live
// in one slot and the ledger runs on Redis Cluster (and Valkey):
//   KEYS[1] entries  HASH  id → entry JSON: time, state, spend, charges (each `out` once a window
//                          passed over it), lease, `w` = windowed charges still counted
//   KEYS[2] sums     HASH  budget key → running sum of the amounts still counted in it
//   KEYS[3] windows  ZSET  `id \n budget key` → the instant its window passes over it
//   KEYS[4] totals   HASH  [host, network, asset] → "spent reserved unknown", for the report
//   KEYS[5] pending  HASH  id → pending payment JSON
//   KEYS[6] leases   ZSET  id → lease end, for reservations a lease can release (no pending yet)
// A reserve reads sums and takes off only what windows have just passed over, so its work is
// O(charges + expired charges + expired leases), whatever the history. An entry that can change
// nothing any more (final, not pending, out of every window) is dropped: `entries` holds what is
// inside a window or unsettled, and the report reads sums and totals, O(budgets + hosts).

const helpers = `
local batch = 500
local entriesKey, sumsKey, windowsKey, totalsKey, pendingKey, leasesKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
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
-- a - b for non-negative decimal strings; never below zero (a sum edited by hand is clamped).
local function sub(a, b)
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
local function addSum(key, amount, minus)
  local sum = redis.call('HGET', sumsKey, key) or '0'
  if minus then sum = sub(sum, amount) else sum = add(sum, amount) end
  redis.call('HSET', sumsKey, key, sum)
end
-- The report's totals: each group keeps spent, reserved and unknown; an entry counts in the one its state says.
local buckets = { committed = 1, reserved = 2, unknown = 3, refused = 3 }
local function addTotal(spend, state, amount, minus)
  local bucket = buckets[state]
  if not bucket then return end
  local group = cjson.encode({ spend.host, spend.network, spend.asset })
  local raw = redis.call('HGET', totalsKey, group) or '0 0 0'
  local parts = {}
  for part in string.gmatch(raw, '%S+') do parts[#parts + 1] = part end
  if minus then parts[bucket] = sub(parts[bucket], amount) else parts[bucket] = add(parts[bucket], amount) end
  local value = table.concat(parts, ' ')
  -- A host whose every payment was released counts for nothing: no line in the report.
  if value == '0 0 0' then redis.call('HDEL', totalsKey, group) else redis.call('HSET', totalsKey, group, value) end
end
local function member(id, key) return id .. '\\n' .. key end
local function load(id)
  local raw = redis.call('HGET', entriesKey, id)
  if raw then return cjson.decode(raw) end
  return nil
end
local function save(entry) redis.call('HSET', entriesKey, entry.id, cjson.encode(entry)) end
local function isPending(id) return redis.call('HEXISTS', pendingKey, id) == 1 end
-- cjson writes an empty array as {}: charges are iterated with ipairs, which reads both alike.
local function release(entry)
  for _, charge in ipairs(entry.charges) do
    if not charge.out then
      addSum(charge.key, charge.amount, true)
      if charge.windowMs then redis.call('ZREM', windowsKey, member(entry.id, charge.key)) end
    end
  end
  addTotal(entry.spend, entry.state, entry.spend.amount, true)
  redis.call('HDEL', entriesKey, entry.id)
  redis.call('HDEL', pendingKey, entry.id)
  redis.call('ZREM', leasesKey, entry.id)
end
-- Dropped once it can change nothing: its totals stay, and budgets without a window keep it in their sums.
local function settle(entry)
  if entry.state ~= 'reserved' and entry.w == 0 and not isPending(entry.id) then
    redis.call('HDEL', entriesKey, entry.id)
    redis.call('ZREM', leasesKey, entry.id)
  else
    save(entry)
  end
end
-- Every charge whose window ended at or before \`now\` leaves its budget's sum, for good.
local function expire(now)
  while true do
    local ended = redis.call('ZRANGEBYSCORE', windowsKey, '-inf', now, 'LIMIT', 0, batch)
    if #ended == 0 then return end
    local touched, order = {}, {}
    for _, item in ipairs(ended) do
      local split = string.find(item, '\\n', 1, true)
      local id, key = string.sub(item, 1, split - 1), string.sub(item, split + 1)
      local entry = touched[id]
      if not entry then
        entry = load(id)
        if entry then
          touched[id] = entry
          order[#order + 1] = entry
        end
      end
      if entry then
        for _, charge in ipairs(entry.charges) do
          if charge.key == key and not charge.out then
            addSum(key, charge.amount, true)
            charge.out = true
            entry.w = entry.w - 1
          end
        end
      end
    end
    redis.call('ZREM', windowsKey, unpack(ended))
    for _, entry in ipairs(order) do settle(entry) end
  end
end
-- Reservations still without a pending payment whose lease ended at or before \`now\`: their
-- process died before the proof left. Released.
local function sweep(now)
  while true do
    local ended = redis.call('ZRANGEBYSCORE', leasesKey, '-inf', now, 'LIMIT', 0, batch)
    if #ended == 0 then return end
    for _, id in ipairs(ended) do
      local entry = load(id)
      if entry and entry.state == 'reserved' and entry.lease and entry.lease.untilMs <= now and not isPending(id) then
        release(entry)
      end
    end
    redis.call('ZREM', leasesKey, unpack(ended))
  end
end
`

/**
 * ARGV: id, time (windows), now (leases), entry JSON ({id, time, spend, charges}), lease owner
 * or '', lease end. Returns {1} when reserved, else {0, key, used, limit}.
 */
export const reserveScript = `${helpers}
local id, time, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local entry = cjson.decode(ARGV[4])
sweep(now)
expire(time)
-- One budget charged twice by one reservation is charged once, with the last amount.
local charges, index = {}, {}
for _, charge in ipairs(entry.charges) do
  if index[charge.key] then charges[index[charge.key]] = charge
  else
    charges[#charges + 1] = charge
    index[charge.key] = #charges
  end
end
for _, charge in ipairs(charges) do
  local sum = redis.call('HGET', sumsKey, charge.key) or '0'
  if greater(add(sum, charge.amount), charge.limit) then return {0, charge.key, sum, charge.limit} end
end
-- The same id again replaces the first reservation.
local previous = load(id)
if previous then release(previous) end
entry.state = 'reserved'
entry.w = 0
entry.charges = {}
for _, charge in ipairs(charges) do
  addSum(charge.key, charge.amount)
  local kept = { key = charge.key, amount = charge.amount }
  if charge.windowMs then
    kept.windowMs = charge.windowMs
    redis.call('ZADD', windowsKey, time + charge.windowMs, member(id, charge.key))
    entry.w = entry.w + 1
  end
  entry.charges[#entry.charges + 1] = kept
end
addTotal(entry.spend, 'reserved', entry.spend.amount)
if ARGV[5] ~= '' then
  entry.lease = { owner = ARGV[5], untilMs = tonumber(ARGV[6]) }
  redis.call('ZADD', leasesKey, ARGV[6], id)
end
save(entry)
return {1}
`

/**
 * ARGV: id, state, settled JSON ({spend, charges}) or ''. A released entry leaves every budget it
 * was charged to; a settled one replaces its spend and the amounts its budgets hold. Any state
 * ends the lease. Running it twice changes nothing more (a command resent after a reconnect).
 */
export const setStateScript = `${helpers}
local id, state = ARGV[1], ARGV[2]
local entry = load(id)
if not entry then return 0 end
local before, beforeState = entry.spend, entry.state
if ARGV[3] ~= '' then
  local settled = cjson.decode(ARGV[3])
  for _, charge in ipairs(settled.charges) do
    for _, held in ipairs(entry.charges) do
      -- Only an amount still in its budget changes the sum; one a window dropped is gone already.
      if held.key == charge.key then
        if not held.out then
          addSum(held.key, held.amount, true)
          addSum(held.key, charge.amount)
        end
        held.amount = charge.amount
      end
    end
  end
  entry.spend = settled.spend
end
if state == 'released' then
  -- The totals hold the spend as it was reserved.
  entry.spend = before
  release(entry)
  return 1
end
addTotal(before, beforeState, before.amount, true)
addTotal(entry.spend, state, entry.spend.amount)
entry.state = state
entry.lease = nil
redis.call('ZREM', leasesKey, id)
if state ~= 'unknown' then redis.call('HDEL', pendingKey, id) end
-- An unknown payment is dropped by its windows passing, not now: one marked before a wallet pays
-- on signing takes its pending payment next.
if state == 'unknown' then save(entry) else settle(entry) end
return 1
`

/**
 * ARGV: id, pending JSON, lease owner or '', lease end. Returns 1, or 0 when the reservation is
 * not held (released, settled, or never made).
 */
export const savePendingScript = `${helpers}
local id = ARGV[1]
local entry = load(id)
if not entry or (entry.state ~= 'reserved' and entry.state ~= 'unknown') then return 0 end
redis.call('HSET', pendingKey, id, ARGV[2])
if ARGV[3] ~= '' then entry.lease = { owner = ARGV[3], untilMs = tonumber(ARGV[4]) } end
redis.call('ZREM', leasesKey, id)
save(entry)
return 1
`

/**
 * ARGV: id, owner, now, leaseMs. Returns {1, until}, {0, 'held', until} or {0, 'gone'}: the lease
 * is renewed for its holder, or taken by anyone when the payment is pending and unheld.
 */
export const claimScript = `${helpers}
local id, owner, now, leaseMs = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local entry = load(id)
if not entry or (entry.state ~= 'reserved' and entry.state ~= 'unknown') then return {0, 'gone'} end
local lease = entry.lease
local pending = isPending(id)
if not (lease and lease.owner == owner) then
  if not pending then return {0, 'gone'} end
  if lease and lease.untilMs > now then return {0, 'held', lease.untilMs} end
end
local untilMs = now + leaseMs
entry.lease = { owner = owner, untilMs = untilMs }
if entry.state == 'reserved' and not pending then redis.call('ZADD', leasesKey, untilMs, id) end
save(entry)
return {1, untilMs}
`

/**
 * ARGV: now, rules JSON ([{key, perHost}]). Returns JSON {budgets: [[rule number, key, used]],
 * totals: [[group, "spent reserved unknown"]]}: what windows passed over by `now` is taken off first.
 */
export const reportScript = `${helpers}
expire(tonumber(ARGV[1]))
local rules = cjson.decode(ARGV[2])
local budgets = {}
local keys = nil
for index, rule in ipairs(rules) do
  if rule.perHost then
    keys = keys or redis.call('HKEYS', sumsKey)
    local prefix = rule.key .. '@'
    for _, key in ipairs(keys) do
      if string.sub(key, 1, #prefix) == prefix then
        budgets[#budgets + 1] = { index, key, redis.call('HGET', sumsKey, key) or '0' }
      end
    end
  else
    budgets[#budgets + 1] = { index, rule.key, redis.call('HGET', sumsKey, rule.key) or '0' }
  end
end
local totals = {}
local flat = redis.call('HGETALL', totalsKey)
for i = 1, #flat, 2 do totals[#totals + 1] = { flat[i], flat[i + 1] } end
return cjson.encode({ budgets = budgets, totals = totals })
`
