-- agent-sessions: the `kv.execute` batch of wit/sessions.wit, on Redis.
--
-- One script, loaded by every host (Rust, Python, JavaScript) with
-- SCRIPT LOAD / EVALSHA, so that a batch is atomic and costs one round trip.
-- Redis runs a script with nothing else in between; this script additionally
-- checks every condition and every key type before its first write, so a
-- batch that fails writes nothing.
--
-- Calling convention
--   KEYS  every key the batch names (already prefixed by the host), each once.
--   ARGV  a flat list of entries. ARGV[1] is the number of conditions, then
--         the conditions; then the number of ops, then the ops. Every entry is
--             <code> <key number (1-based index into KEYS)> <arg count> <args...>
--
--   condition codes (args)
--     exists (-)  missing (-)  field_eq (field, value)  field_missing (field)
--   op codes (args)                     reply
--     hgetall (-)                       flat array field, value, ...
--     hget (field)                      bulk or nil
--     hmget (field, ...)                array of bulk or nil, one per field
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
--     zscore (member)                   bulk or nil
--     zrevrange (start, stop)           array of members
--     zscan (cursor, count)             [cursor, [member, ...]]
--     sismember (member)                integer: 1 if a member
--     scan (cursor, pattern, count)     [cursor, [key, ...]]; key number 0:
--                                       the pattern is not a key
--
-- Reply
--   {1, reply, ...}                 applied: one reply per op
--   {0, condition index, actual}    condition failed (0-based); actual is the
--                                   field's value for field conditions, else nil
--   {2, op index, type}             op (0-based) needs another type than its
--                                   key holds; nothing was written
--   {3, op index, value}            hincrby (0-based) on a field that holds no
--                                   integer; nothing was written

-- Entries are parsed into parallel arrays of plain values (code, key, and
-- where the entry's arguments start in ARGV and how many there are), so a
-- batch allocates no table per entry; arguments are passed with unpack.
local codes, keys, firsts, counts = {}, {}, {}, {}

local function parse(position, offset)
  local count = tonumber(ARGV[position])
  position = position + 1
  for i = offset + 1, offset + count do
    codes[i] = ARGV[position]
    keys[i] = KEYS[tonumber(ARGV[position + 1])]
    local argc = tonumber(ARGV[position + 2])
    firsts[i] = position + 3
    counts[i] = argc
    position = position + 3 + argc
  end
  return position, count
end

local next_position, condition_count = parse(1, 0)
local _, op_count = parse(next_position, condition_count)

local function arg(i, n)
  return ARGV[firsts[i] + n - 1]
end

local function args(i)
  return unpack(ARGV, firsts[i], firsts[i] + counts[i] - 1)
end

for i = 1, condition_count do
  local code, key = codes[i], keys[i]
  local held, actual
  if code == 'exists' then
    held = redis.call('EXISTS', key) == 1
  elseif code == 'missing' then
    held = redis.call('EXISTS', key) == 0
  else
    local key_type = redis.call('TYPE', key).ok
    if key_type == 'hash' then
      actual = redis.call('HGET', key, arg(i, 1))
    elseif key_type ~= 'none' then
      return { 0, i - 1, false }
    end
    if code == 'field_eq' then
      held = actual == arg(i, 2)
    elseif code == 'field_missing' then
      held = not actual
    else
      return redis.error_reply('ERR kv_batch: unknown condition ' .. tostring(code))
    end
  end
  if not held then
    return { 0, i - 1, actual or false }
  end
end

local needs_type = {
  hgetall = 'hash', hget = 'hash', hmget = 'hash', hset = 'hash', hincrby = 'hash',
  sadd = 'set', srem = 'set', scard = 'set', sscan = 'set', sismember = 'set',
  zadd = 'zset', zrem = 'zset', zcard = 'zset', zscore = 'zset', zrevrange = 'zset', zscan = 'zset',
  set = false, exists = false, pttl = false, pexpire = false, del = false, scan = false,
}

-- Types are read once per key: a cleanup batch names the set and the index
-- once per session.
local key_types = {}
for i = condition_count + 1, condition_count + op_count do
  local code, key = codes[i], keys[i]
  local wanted = needs_type[code]
  if wanted == nil then
    return redis.error_reply('ERR kv_batch: unknown op ' .. tostring(code))
  end
  if wanted then
    local key_type = key_types[key]
    if not key_type then
      key_type = redis.call('TYPE', key).ok
      key_types[key] = key_type
    end
    if key_type ~= 'none' and key_type ~= wanted then
      return { 2, i - condition_count - 1, key_type }
    end
  end
  -- HINCRBY fails on a non-integer field; find that out before writing.
  if code == 'hincrby' then
    local current = redis.call('HGET', key, arg(i, 1))
    if current and not (string.match(current, '^%-?%d+$') and #current <= 19) then
      return { 3, i - condition_count - 1, current }
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
  hgetall = function(key, i) return redis.call('HGETALL', key) end,
  hget = function(key, i) return redis.call('HGET', key, arg(i, 1)) end,
  hmget = function(key, i) return redis.call('HMGET', key, args(i)) end,
  hset = function(key, i) return redis.call('HSET', key, args(i)) end,
  hincrby = function(key, i) return redis.call('HINCRBY', key, arg(i, 1), arg(i, 2)) end,
  set = function(key, i)
    if counts[i] > 1 then
      redis.call('SET', key, arg(i, 1), 'PX', arg(i, 2))
    else
      redis.call('SET', key, arg(i, 1))
    end
    return 1
  end,
  exists = function(key, i) return redis.call('EXISTS', key) end,
  pttl = function(key, i) return redis.call('PTTL', key) end,
  pexpire = function(key, i) return redis.call('PEXPIRE', key, arg(i, 1)) end,
  del = function(key, i) return redis.call('DEL', key) end,
  sadd = function(key, i) return redis.call('SADD', key, args(i)) end,
  srem = function(key, i) return redis.call('SREM', key, args(i)) end,
  scard = function(key, i) return redis.call('SCARD', key) end,
  sscan = function(key, i) return members_of_scan(redis.call('SSCAN', key, arg(i, 1), 'COUNT', arg(i, 2)), false) end,
  zadd = function(key, i) return redis.call('ZADD', key, args(i)) end,
  zrem = function(key, i) return redis.call('ZREM', key, args(i)) end,
  zcard = function(key, i) return redis.call('ZCARD', key) end,
  zscore = function(key, i) return redis.call('ZSCORE', key, arg(i, 1)) end,
  zrevrange = function(key, i) return redis.call('ZREVRANGE', key, arg(i, 1), arg(i, 2)) end,
  zscan = function(key, i) return members_of_scan(redis.call('ZSCAN', key, arg(i, 1), 'COUNT', arg(i, 2)), true) end,
  sismember = function(key, i) return redis.call('SISMEMBER', key, arg(i, 1)) end,
  scan = function(key, i)
    return redis.call('SCAN', arg(i, 1), 'MATCH', arg(i, 2), 'COUNT', arg(i, 3))
  end,
}

local replies = { 1 }
for i = condition_count + 1, condition_count + op_count do
  replies[i - condition_count + 1] = handlers[codes[i]](keys[i], i)
end
return replies
