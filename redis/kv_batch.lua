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
--     zrevrange (start, stop)           [member, ...]
--     zscan (cursor, count)             [cursor, [member, ...]]
--     sismember (member)                integer: 1 if a member
--     scan (cursor, pattern, count)     [cursor, [key, ...]] (keys unprefixed)
--
-- Reply: one JSON text (an empty array may come out as {})
--   [1, reply, ...]                 applied: one reply per op
--   [0, condition index, actual]    condition failed (0-based); actual is the
--                                   field's value for field conditions, else false
--   [2, key, message]               a key (unprefixed) holds another type than
--                                   an op needs, or HINCRBY meets a field that
--                                   holds no integer; nothing was written
--   [4, message]                    the batch breaks a rule (the same rules and
--                                   messages as guest/src/kv/rules.rs)

local prefix = ARGV[1] or ''
local MAX_BATCH_ENTRIES = 100000
local MAX_MEMBERS_PER_OP = 1000
local MAX_TTL_MS = 3153600000000

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
if #conditions + #ops > MAX_BATCH_ENTRIES then
  return refuse('a batch may hold at most ' .. MAX_BATCH_ENTRIES .. ' conditions and ops')
end

-- The key of an entry, or nil and why not.
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

-- Op code -> {type its key must hold (false: any), first item, items per
-- member}: what the rules check.
local shapes = {
  hgetall = { 'hash' }, hget = { 'hash' }, hmget = { 'hash', 3, 1 }, hset = { 'hash', 3, 2 },
  hincrby = { 'hash' },
  sadd = { 'set', 3, 1 }, srem = { 'set', 3, 1 }, scard = { 'set' }, sscan = { 'set' }, sismember = { 'set' },
  zadd = { 'zset', 3, 2 }, zrem = { 'zset', 3, 1 }, zcard = { 'zset' }, zscore = { 'zset' },
  zrevrange = { 'zset' }, zscan = { 'zset' },
  set = { 'string' }, exists = { false }, pttl = { false }, pexpire = { false }, del = { false }, scan = { false },
}

-- An op's key as the guest named it (a scan's pattern), for messages.
local function entry_name(key, entry)
  if key then
    return unprefixed(key)
  end
  return tostring(entry[4])
end

local function bad_ttl(ms)
  local n = tonumber(ms)
  return not n or n < 1 or n > MAX_TTL_MS
end

-- The rules, in the order guest/src/kv/rules.rs checks them.
local op_keys = {}
local declared = {}
for i, entry in ipairs(ops) do
  local index = i - 1
  local key, why = key_of(entry, index)
  if key == nil then
    return refuse(why)
  end
  local code = entry[1]
  local shape = shapes[code]
  if not shape then
    return refuse('op ' .. index .. ': unknown op ' .. code .. ' with ' .. (#entry - 2) .. ' args')
  end
  op_keys[i] = key
  local items
  if shape[2] then
    items = (#entry - 2) / shape[3]
    if items > MAX_MEMBERS_PER_OP then
      return refuse('op ' .. index .. ' names ' .. items .. ' items; at most ' .. MAX_MEMBERS_PER_OP .. ' per op')
    end
  end
  if (code == 'set' and entry[4] and bad_ttl(entry[4])) or (code == 'pexpire' and bad_ttl(entry[3])) then
    return refuse('op ' .. index .. ': a TTL must be from 1 ms to ' .. MAX_TTL_MS .. ' ms')
  end
  if code == 'zadd' then
    for j = 3, #entry, 2 do
      local score = tonumber(entry[j])
      if not score or score ~= score or score == math.huge or score == -math.huge then
        return refuse('op ' .. index .. ': scores must be finite')
      end
    end
  end
  local empty = items == 0
  if code == 'sscan' or code == 'zscan' then
    empty = tonumber(entry[4]) == 0
  elseif code == 'scan' then
    empty = tonumber(entry[5]) == 0 or entry[4] == ''
  end
  if empty then
    return refuse('op ' .. index .. ' on ' .. entry_name(key, entry) .. ' has nothing to do')
  end
  local wanted = shape[1]
  if wanted then
    local previous = declared[key]
    if previous and previous ~= wanted then
      return refuse('op ' .. index .. ' uses ' .. entry_name(key, entry) .. ' as a ' .. previous .. ' and as a ' .. wanted)
    end
    declared[key] = wanted
  end
end

for i, entry in ipairs(conditions) do
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
  else
    return refuse('condition ' .. (i - 1) .. ': unknown condition ' .. code .. ' with ' .. (#entry - 2) .. ' args')
  end
  if not held then
    return cjson.encode({ 0, i - 1, actual or false })
  end
end

-- Types are read once per key (a cleanup batch names the set and the index
-- once per session), in op order, so the first op's key is the one named.
local checked = {}
for i, entry in ipairs(ops) do
  local key, wanted = op_keys[i], shapes[entry[1]][1]
  if key and wanted and wanted ~= 'string' and not checked[key] then
    checked[key] = true
    local key_type = redis.call('TYPE', key).ok
    if key_type ~= 'none' and key_type ~= wanted then
      return cjson.encode({ 2, unprefixed(key), 'the key holds a ' .. key_type .. ', not a ' .. wanted })
    end
  end
end
-- HINCRBY fails on a non-integer field; find that out before writing.
for i, entry in ipairs(ops) do
  if entry[1] == 'hincrby' then
    local current = redis.call('HGET', op_keys[i], entry[3])
    if current and not (string.match(current, '^%-?%d+$') and #current <= 19) then
      return cjson.encode({ 2, unprefixed(op_keys[i]),
        'field ' .. entry[3] .. ' holds "' .. current .. '", not an integer' })
    end
  end
end

local function members_of_scan(reply, with_scores)
  local members = {}
  local step = with_scores and 2 or 1
  for j = 1, #reply[2], step do
    members[#members + 1] = reply[2][j]
  end
  return { reply[1], members }
end

local handlers = {
  hgetall = function(key, e) return redis.call('HGETALL', key) end,
  hget = function(key, e) return redis.call('HGET', key, e[3]) end,
  hmget = function(key, e) return redis.call('HMGET', key, unpack(e, 3)) end,
  hset = function(key, e) return redis.call('HSET', key, unpack(e, 3)) end,
  hincrby = function(key, e) return redis.call('HINCRBY', key, e[3], e[4]) end,
  set = function(key, e)
    if e[4] then
      redis.call('SET', key, e[3], 'PX', e[4])
    else
      redis.call('SET', key, e[3])
    end
    return 1
  end,
  exists = function(key, e) return redis.call('EXISTS', key) end,
  pttl = function(key, e) return redis.call('PTTL', key) end,
  pexpire = function(key, e) return redis.call('PEXPIRE', key, e[3]) end,
  del = function(key, e) return redis.call('DEL', key) end,
  sadd = function(key, e) return redis.call('SADD', key, unpack(e, 3)) end,
  srem = function(key, e) return redis.call('SREM', key, unpack(e, 3)) end,
  scard = function(key, e) return redis.call('SCARD', key) end,
  sscan = function(key, e) return members_of_scan(redis.call('SSCAN', key, e[3], 'COUNT', e[4]), false) end,
  zadd = function(key, e) return redis.call('ZADD', key, unpack(e, 3)) end,
  zrem = function(key, e) return redis.call('ZREM', key, unpack(e, 3)) end,
  zcard = function(key, e) return redis.call('ZCARD', key) end,
  zscore = function(key, e) return redis.call('ZSCORE', key, e[3]) end,
  zrevrange = function(key, e) return redis.call('ZREVRANGE', key, e[3], e[4]) end,
  zscan = function(key, e) return members_of_scan(redis.call('ZSCAN', key, e[3], 'COUNT', e[4]), true) end,
  sismember = function(key, e) return redis.call('SISMEMBER', key, e[3]) end,
  scan = function(key, e)
    local pattern = string.gsub(prefix, '[%*%?%[%]\\]', '\\%0') .. e[4]
    local reply = redis.call('SCAN', e[3], 'MATCH', pattern, 'COUNT', e[5])
    local keys = {}
    for j, found in ipairs(reply[2]) do
      keys[j] = unprefixed(found)
    end
    return { reply[1], keys }
  end,
}

local replies = { 1 }
for i, entry in ipairs(ops) do
  replies[i + 1] = handlers[entry[1]](op_keys[i], entry)
end
return cjson.encode(replies)
