// Lua run inside Redis, so each operation on the shared ledger is atomic across every process.
// Amounts are decimal strings added digit by digit: Lua numbers are doubles and would round
// atomic amounts above 2^53 (18-decimal tokens).

const decimalHelpers = `
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
  local s = string.reverse(table.concat(out)):gsub('^0+', '')
  if s == '' then return '0' end
  return s
end
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
`

/**
 * ARGV: prefix, id, time, entry JSON, charges JSON ([{key, limit, amount, windowMs?}]).
 * Returns {1} when reserved, else {0, key, used, limit}.
 */
export const reserveScript = `${decimalHelpers}
local prefix, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local charges = cjson.decode(ARGV[5])
for _, charge in ipairs(charges) do
  local set, amounts = prefix .. 'charge:' .. charge.key, prefix .. 'amount:' .. charge.key
  local ids
  if charge.windowMs then
    local expired = redis.call('ZRANGEBYSCORE', set, '-inf', now - charge.windowMs)
    if #expired > 0 then
      redis.call('ZREM', set, unpack(expired))
      redis.call('HDEL', amounts, unpack(expired))
    end
  end
  ids = redis.call('ZRANGE', set, 0, -1)
  local used = '0'
  if #ids > 0 then
    for _, amount in ipairs(redis.call('HMGET', amounts, unpack(ids))) do
      if amount then used = add(used, amount) end
    end
  end
  if greater(add(used, charge.amount), charge.limit) then return {0, charge.key, used, charge.limit} end
end
for _, charge in ipairs(charges) do
  redis.call('ZADD', prefix .. 'charge:' .. charge.key, now, id)
  redis.call('HSET', prefix .. 'amount:' .. charge.key, id, charge.amount)
end
redis.call('HSET', prefix .. 'entries', id, ARGV[4])
return {1}
`

/** ARGV: prefix, id, state. A released entry leaves every budget it was charged to. */
export const setStateScript = `
local prefix, id, state = ARGV[1], ARGV[2], ARGV[3]
local raw = redis.call('HGET', prefix .. 'entries', id)
if not raw then return 0 end
local entry = cjson.decode(raw)
entry.state = state
if state == 'released' then
  for _, charge in ipairs(entry.charges) do
    redis.call('ZREM', prefix .. 'charge:' .. charge.key, id)
    redis.call('HDEL', prefix .. 'amount:' .. charge.key, id)
  end
end
if state ~= 'unknown' then redis.call('HDEL', prefix .. 'pending', id) end
redis.call('HSET', prefix .. 'entries', id, cjson.encode(entry))
return 1
`
