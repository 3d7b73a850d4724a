-- agent-sessions: the `kv.execute` batch of wit/sessions.wit, on Redis.
--
-- One script, loaded by every host (Rust, Python, JavaScript) with
-- SCRIPT LOAD / EVALSHA, so that a batch is atomic and costs one round trip.
-- Redis runs a script with nothing else in between; this script also checks
-- every rule of the batch, every condition and every key type before its
-- first write, so a batch that fails writes nothing.
--
-- The guest packs the batch (guest/src/kv/wire.rs); a host only prefixes
-- the keys and passes everything through:
--   KEYS     every key the batch touches, each once, already prefixed.
--   ARGV[1]  the host's key prefix ('' for none): scan patterns get it in
--            front (glob-escaped) and the keys a scan returns lose it.
--   ARGV[2]  JSON [[condition, ...], [op, ...]]; each entry is
--            ["code", key number (1-based into KEYS; 0 for scan), arg, ...].
--
--   condition codes (args)
--     exists (-)  missing (-)  field_eq (field, value)  field_missing (field)
--     llen_between (min, max): min <= LLEN <= max (a missing key has 0)
--   op codes (args)                     reply
--     hgetall (-)                       [field, value, ...]
--     hget (field)                      text or false
--     hmget (field, ...)                [text or false, ...]
--     hset (field, value, ...)          integer: fields added
--     hincrby (field, delta)            integer: new value
--     set (value [, ttl ms])            integer: 1
--     exists (-)                        integer
--     pttl (-)                          integer: ms, -1 no TTL, -2 no key
--     pexpire (ttl ms)                  integer: 1 set, 0 no key
--     del (-)                           integer: keys removed
--     sadd / srem (member, ...)         integer
--     scard (-)                         integer
--     sscan (cursor, count)             [cursor, [member, ...]]
--     zadd (score, member, ...)         integer: members added
--     zrem (member, ...)                integer
--     zcard (-)                         integer
--     zscore (member)                   text or false
--     zrevrange (start, stop)           [member, score, ...]
--     zrevrangebyscore (max, min [, offset, count])
--                                       [member, score, ...]: max down to min
--                                       (Redis bounds: 12, (12, +inf, -inf)
--     zscan (cursor, count)             [cursor, [member, ...]]
--     sismember (member)                integer: 1 if a member
--     scan (cursor, pattern, count)     [cursor, [key, ...]] (keys unprefixed)
--     hdel (field, ...)                 integer: fields removed
--     rpush (value, ...)                integer: new length
--     lrange (start, stop, max bytes)   [left out, [item, ...]]: of LRANGE
--                                       start stop, the newest items whose
--                                       lengths add up to at most max bytes
--                                       (at least one), oldest first; left out
--                                       counts the older items of the range
--     rpop (-)                          text or false
--     ltrim (start, stop)               integer: 1
--     llen (-)                          integer
--   start and stop are Redis list indexes (negative from the end), the only
--   signed integers of the format: 0, or -?[1-9][0-9]* within 64 bits.
--
-- Reply: one JSON text (an empty array may come out as {})
--   [1, reply, ...]                 applied: one reply per op
--   [0, condition index, actual]    condition failed (0-based); actual is the
--                                   field's value for field conditions, the
--                                   length for llen_between, else false (also
--                                   when the key holds another type)
--   [2, key, message]               a key (unprefixed) holds another type than
--                                   an op needs, or HINCRBY meets a field that
--                                   holds no integer; nothing was written
--   [4, message]                    the batch breaks a rule (the same rules and
--                                   messages as guest/src/kv/rules.rs)

local prefix = ARGV[1] or ''
local MAX_BATCH_ENTRIES = 100000
local MAX_MEMBERS_PER_OP = 1000
local MAX_TTL_MS = 3153600000000

-- Everything below runs on every call, so it allocates as little as it
-- can: two lookup tables, no table or closure per entry or per op code.

local function refuse(message)
  return cjson.encode({ 4, message })
end

local function unprefixed(key)
  return string.sub(key, #prefix + 1)
end

local decoded, batch = pcall(cjson.decode, ARGV[2] or '')
if not decoded or type(batch) ~= 'table' or type(batch[1]) ~= 'table' or type(batch[2]) ~= 'table' then
  return refuse('the batch is not [conditions, ops]')
end
local conditions, ops = batch[1], batch[2]
local condition_count, op_count = #conditions, #ops
if condition_count + op_count > MAX_BATCH_ENTRIES then
  return refuse('a batch may hold at most ' .. MAX_BATCH_ENTRIES .. ' conditions and ops')
end

-- The key of an entry, or nil and why not (false for scan: no key).
local function key_of(entry, index)
  if type(entry) ~= 'table' or type(entry[1]) ~= 'string' or type(entry[2]) ~= 'number' then
    return nil, 'entry ' .. index .. ' is not [code, key number, text, ...]'
  end
  local number = entry[2]
  if number == 0 and entry[1] == 'scan' then
    return false
  end
  local key = KEYS[number]
  if not key then
    return nil, 'entry ' .. index .. ' names key ' .. number .. ' of ' .. #KEYS
  end
  return key
end

-- Op code -> the type its key must hold ('' for any).
local TYPES = {
  hgetall = 'hash', hget = 'hash', hmget = 'hash', hset = 'hash', hincrby = 'hash',
  sadd = 'set', srem = 'set', scard = 'set', sscan = 'set', sismember = 'set',
  zadd = 'zset', zrem = 'zset', zcard = 'zset', zscore = 'zset', zrevrange = 'zset', zrevrangebyscore = 'zset',
  zscan = 'zset',
  set = 'string', exists = '', pttl = '', pexpire = '', del = '', scan = '',
  hdel = 'hash', rpush = 'list', lrange = 'list', rpop = 'list', ltrim = 'list', llen = 'list',
}
-- Ops that name items (fields or members): arguments per item.
local ITEM_ARGS = { hmget = 1, hset = 2, sadd = 1, srem = 1, zadd = 2, zrem = 1, hdel = 1, rpush = 1 }
-- Ops that write.
local WRITES = { hset = true, hincrby = true, set = true, pexpire = true, del = true, sadd = true, srem = true,
  zadd = true, zrem = true, hdel = true, rpush = true, rpop = true, ltrim = true }
-- List ops with a fixed number of arguments.
local LIST_ARGS = { lrange = 3, ltrim = 2, rpop = 0, llen = 0 }

-- Whether `text` is a list index Redis reads without an error: 0, or an
-- optional '-' and digits without a leading zero, within 64 bits (equal
-- lengths of digits compare as text the way they compare as numbers).
local function is_index(text)
  if text == '0' then
    return true
  end
  local digits = type(text) == 'string' and string.match(text, '^%-?([1-9]%d*)$')
  if not digits or #digits > 19 then
    return false
  end
  return #digits < 19 or digits <= (string.sub(text, 1, 1) == '-' and '9223372036854775808' or '9223372036854775807')
end

local function is_count(text)
  return type(text) == 'string' and string.match(text, '^%d+$') ~= nil
end

-- The rules, in the order guest/src/kv/rules.rs checks them.
local op_keys = {}
local declared = {}
local writes = false
for i = 1, op_count do
  local entry = ops[i]
  local index = i - 1
  local key, why = key_of(entry, index)
  if key == nil then
    return refuse(why)
  end
  local code = entry[1]
  local wanted = TYPES[code]
  if not wanted then
    return refuse('op ' .. index .. ': unknown op ' .. code .. ' with ' .. (#entry - 2) .. ' args')
  end
  op_keys[i] = key
  writes = writes or WRITES[code] or false
  local per_item = ITEM_ARGS[code]
  local empty = false
  if per_item then
    local items = (#entry - 2) / per_item
    if items > MAX_MEMBERS_PER_OP then
      return refuse('op ' .. index .. ' names ' .. items .. ' items; at most ' .. MAX_MEMBERS_PER_OP .. ' per op')
    end
    empty = items == 0
  end
  if code == 'pexpire' or (code == 'set' and entry[4]) then
    local ms = tonumber(code == 'set' and entry[4] or entry[3])
    if not ms or ms < 1 or ms > MAX_TTL_MS then
      return refuse('op ' .. index .. ': a TTL must be from 1 ms to ' .. MAX_TTL_MS .. ' ms')
    end
  elseif code == 'zadd' then
    for j = 3, #entry, 2 do
      local score = tonumber(entry[j])
      if not score or score ~= score or score == math.huge or score == -math.huge then
        return refuse('op ' .. index .. ': scores must be finite')
      end
    end
  elseif code == 'sscan' or code == 'zscan' then
    empty = tonumber(entry[4]) == 0
  elseif code == 'zrevrangebyscore' then
    local args = #entry - 2
    if args ~= 2 and args ~= 4 then
      return refuse('op ' .. index .. ': unknown op ' .. code .. ' with ' .. args .. ' args')
    end
    for j = 3, 4 do
      local bound = entry[j]
      local number = type(bound) == 'string' and string.gsub(bound, '^%(', '') or ''
      local score = tonumber(number)
      if not (number == 'inf' or number == '+inf' or number == '-inf'
          or (score and score == score and score ~= math.huge and score ~= -math.huge)) then
        return refuse('op ' .. index .. ': ' .. cjson.encode(tostring(bound)) .. ' is not a score bound')
      end
    end
    if args == 4 then
      for j = 5, 6 do
        if not string.match(tostring(entry[j]), '^%d+$') then
          return refuse('op ' .. index .. ': ' .. cjson.encode(tostring(entry[j])) .. ' is not a count')
        end
      end
      empty = tonumber(entry[6]) == 0
    end
  elseif code == 'scan' then
    empty = tonumber(entry[5]) == 0 or entry[4] == ''
  elseif LIST_ARGS[code] then
    local args = #entry - 2
    if args ~= LIST_ARGS[code] then
      return refuse('op ' .. index .. ': unknown op ' .. code .. ' with ' .. args .. ' args')
    end
    for j = 3, math.min(#entry, 4) do
      if not is_index(entry[j]) then
        return refuse('op ' .. index .. ': ' .. cjson.encode(tostring(entry[j])) .. ' is not an integer')
      end
    end
    if code == 'lrange' then
      if not is_count(entry[5]) then
        return refuse('op ' .. index .. ': ' .. cjson.encode(tostring(entry[5])) .. ' is not a count')
      end
      if tonumber(entry[5]) < 1 then
        return refuse('op ' .. index .. ': a byte budget must be at least 1')
      end
    end
  end
  if empty then
    local name = key and unprefixed(key) or tostring(entry[4])
    return refuse('op ' .. index .. ' on ' .. name .. ' has nothing to do')
  end
  if wanted ~= '' then
    local previous = declared[key]
    if not previous then
      declared[key] = wanted
    elseif previous ~= wanted then
      return refuse('op ' .. index .. ' uses ' .. unprefixed(key) .. ' as a ' .. previous .. ' and as a ' .. wanted)
    end
  end
end

for i = 1, condition_count do
  local entry = conditions[i]
  local key, why = key_of(entry, i - 1)
  if not key then
    return refuse(why or ('condition ' .. (i - 1) .. ' names no key'))
  end
  local code = entry[1]
  local held, actual
  if code == 'exists' then
    held = redis.call('EXISTS', key) == 1
  elseif code == 'missing' then
    held = redis.call('EXISTS', key) == 0
  elseif code == 'field_eq' or code == 'field_missing' then
    local key_type = redis.call('TYPE', key).ok
    if key_type == 'hash' then
      actual = redis.call('HGET', key, entry[3])
    elseif key_type ~= 'none' then
      return cjson.encode({ 0, i - 1, false })
    end
    if code == 'field_eq' then
      held = actual == entry[4]
    else
      held = not actual
    end
  elseif code == 'llen_between' then
    local args = #entry - 2
    if args ~= 2 then
      return refuse('condition ' .. (i - 1) .. ': unknown condition ' .. code .. ' with ' .. args .. ' args')
    end
    for j = 3, 4 do
      if not is_count(entry[j]) then
        return refuse('condition ' .. (i - 1) .. ': ' .. cjson.encode(tostring(entry[j])) .. ' is not a count')
      end
    end
    local key_type = redis.call('TYPE', key).ok
    if key_type ~= 'list' and key_type ~= 'none' then
      return cjson.encode({ 0, i - 1, false })
    end
    local length = redis.call('LLEN', key)
    held = length >= tonumber(entry[3]) and length <= tonumber(entry[4])
    actual = tostring(length)
  else
    return refuse('condition ' .. (i - 1) .. ': unknown condition ' .. code .. ' with ' .. (#entry - 2) .. ' args')
  end
  if not held then
    return cjson.encode({ 0, i - 1, actual or false })
  end
end

-- A batch that writes has every key's type checked before its first write
-- (read once per key, in op order, so the first op's key is the one named;
-- `declared` then marks checked keys with true), and HINCRBY's field, so
-- that nothing is half-written. A batch that only reads skips that: its
-- reads run with pcall and a WRONGTYPE error becomes the same answer.
local function wrong_type(key, wanted)
  local found = redis.call('TYPE', key).ok
  return cjson.encode({ 2, unprefixed(key), 'the key holds a ' .. found .. ', not a ' .. wanted })
end

if writes then
  for i = 1, op_count do
    local key = op_keys[i]
    local wanted = declared[key]
    if wanted and wanted ~= true then
      declared[key] = true
      if wanted ~= 'string' then
        local key_type = redis.call('TYPE', key).ok
        if key_type ~= 'none' and key_type ~= wanted then
          return wrong_type(key, wanted)
        end
      end
    end
    local entry = ops[i]
    if entry[1] == 'hincrby' then
      local current = redis.call('HGET', key, entry[3])
      if current and not (string.match(current, '^%-?%d+$') and #current <= 19) then
        return cjson.encode({ 2, unprefixed(key), 'field ' .. entry[3] .. ' holds "' .. current .. '", not an integer' })
      end
    end
  end
end

-- SSCAN/ZSCAN reply: [cursor, members] (ZSCAN's scores dropped); an error
-- reply (pcall) as it is.
local function scanned(reply, step)
  if reply.err then
    return reply
  end
  local members = {}
  local found = reply[2]
  for j = 1, #found, step do
    members[#members + 1] = found[j]
  end
  return { reply[1], members }
end

-- LRANGE's items cut to the newest whose lengths add up to at most
-- `max_bytes` (at least one): [left out, [item, ...]], oldest first; an
-- error reply (pcall) as it is.
local function newest(items, max_bytes)
  if items.err then
    return items
  end
  local count = #items
  local first, total = count + 1, 0
  while first > 1 do
    local size = #items[first - 1]
    if first <= count and total + size > max_bytes then
      break
    end
    total = total + size
    first = first - 1
  end
  local kept = {}
  for j = first, count do
    kept[#kept + 1] = items[j]
  end
  return { first - 1, kept }
end

local call = writes and redis.call or redis.pcall
local replies = { 1 }
for i = 1, op_count do
  local e = ops[i]
  local code, key = e[1], op_keys[i]
  local reply
  if code == 'hmget' then
    reply = call('HMGET', key, unpack(e, 3))
  elseif code == 'pexpire' then
    reply = call('PEXPIRE', key, e[3])
  elseif code == 'hset' then
    reply = call('HSET', key, unpack(e, 3))
  elseif code == 'pttl' then
    reply = call('PTTL', key)
  elseif code == 'del' then
    reply = call('DEL', key)
  elseif code == 'set' then
    if e[4] then
      call('SET', key, e[3], 'PX', e[4])
    else
      call('SET', key, e[3])
    end
    reply = 1
  elseif code == 'exists' then
    reply = call('EXISTS', key)
  elseif code == 'hgetall' then
    reply = call('HGETALL', key)
  elseif code == 'hget' then
    reply = call('HGET', key, e[3])
  elseif code == 'hincrby' then
    reply = call('HINCRBY', key, e[3], e[4])
  elseif code == 'sadd' then
    reply = call('SADD', key, unpack(e, 3))
  elseif code == 'srem' then
    reply = call('SREM', key, unpack(e, 3))
  elseif code == 'scard' then
    reply = call('SCARD', key)
  elseif code == 'sscan' then
    reply = scanned(call('SSCAN', key, e[3], 'COUNT', e[4]), 1)
  elseif code == 'zadd' then
    reply = call('ZADD', key, unpack(e, 3))
  elseif code == 'zrem' then
    reply = call('ZREM', key, unpack(e, 3))
  elseif code == 'zcard' then
    reply = call('ZCARD', key)
  elseif code == 'zscore' then
    reply = call('ZSCORE', key, e[3])
  elseif code == 'zrevrange' then
    reply = call('ZREVRANGE', key, e[3], e[4], 'WITHSCORES')
  elseif code == 'zrevrangebyscore' then
    if e[6] then
      reply = call('ZREVRANGEBYSCORE', key, e[3], e[4], 'WITHSCORES', 'LIMIT', e[5], e[6])
    else
      reply = call('ZREVRANGEBYSCORE', key, e[3], e[4], 'WITHSCORES')
    end
  elseif code == 'zscan' then
    reply = scanned(call('ZSCAN', key, e[3], 'COUNT', e[4]), 2)
  elseif code == 'sismember' then
    reply = call('SISMEMBER', key, e[3])
  elseif code == 'rpush' then
    reply = call('RPUSH', key, unpack(e, 3))
  elseif code == 'lrange' then
    reply = newest(call('LRANGE', key, e[3], e[4]), tonumber(e[5]))
  elseif code == 'llen' then
    reply = call('LLEN', key)
  elseif code == 'rpop' then
    reply = call('RPOP', key)
  elseif code == 'ltrim' then
    call('LTRIM', key, e[3], e[4])
    reply = 1
  elseif code == 'hdel' then
    reply = call('HDEL', key, unpack(e, 3))
  else -- scan: the pattern gets the prefix, glob-escaped; the keys lose it
    local pattern = string.gsub(prefix, '[%*%?%[%]\\]', '\\%0') .. e[4]
    local found = call('SCAN', e[3], 'MATCH', pattern, 'COUNT', e[5])
    local keys = {}
    for j, name in ipairs(found[2]) do
      keys[j] = unprefixed(name)
    end
    reply = { found[1], keys }
  end
  if not writes and type(reply) == 'table' and reply.err then
    if string.sub(reply.err, 1, 9) == 'WRONGTYPE' then
      return wrong_type(key, TYPES[code])
    end
    return redis.error_reply(reply.err)
  end
  replies[i + 1] = reply
end
return cjson.encode(replies)
