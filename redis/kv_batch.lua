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
--
-- Reply
--   {1, reply, ...}                 applied: one reply per op
--   {0, condition index, actual}    condition failed (0-based); actual is the
--                                   field's value for field conditions, else nil
--   {2, op index, type}             op (0-based) needs another type than its
--                                   key holds; nothing was written
--   {3, op index, value}            hincrby (0-based) on a field that holds no
--                                   integer; nothing was written

local function parse(position)
  local count = tonumber(ARGV[position])
  position = position + 1
  local entries = {}
  for i = 1, count do
    local code = ARGV[position]
    local key = KEYS[tonumber(ARGV[position + 1])]
    local argc = tonumber(ARGV[position + 2])
    local args = {}
    for j = 1, argc do
      args[j] = ARGV[position + 2 + j]
    end
    entries[i] = { code = code, key = key, args = args }
    position = position + 3 + argc
  end
  return entries, position
end

local conditions, next_position = parse(1)
local ops = parse(next_position)

for i, c in ipairs(conditions) do
  local held, actual
  if c.code == 'exists' then
    held = redis.call('EXISTS', c.key) == 1
  elseif c.code == 'missing' then
    held = redis.call('EXISTS', c.key) == 0
  else
    local key_type = redis.call('TYPE', c.key).ok
    if key_type == 'hash' then
      actual = redis.call('HGET', c.key, c.args[1])
    elseif key_type ~= 'none' then
      return { 0, i - 1, false }
    end
    if c.code == 'field_eq' then
      held = actual == c.args[2]
    elseif c.code == 'field_missing' then
      held = not actual
    else
      return redis.error_reply('ERR kv_batch: unknown condition ' .. tostring(c.code))
    end
  end
  if not held then
    return { 0, i - 1, actual or false }
  end
end

local needs_type = {
  hgetall = 'hash', hget = 'hash', hmget = 'hash', hset = 'hash', hincrby = 'hash',
  sadd = 'set', srem = 'set', scard = 'set', sscan = 'set',
  zadd = 'zset', zrem = 'zset', zcard = 'zset', zscore = 'zset', zrevrange = 'zset', zscan = 'zset',
  set = false, exists = false, pttl = false, pexpire = false, del = false,
}

-- Types are read once per key: a cleanup batch names the set and the index
-- once per session.
local key_types = {}
for i, op in ipairs(ops) do
  local wanted = needs_type[op.code]
  if wanted == nil then
    return redis.error_reply('ERR kv_batch: unknown op ' .. tostring(op.code))
  end
  if wanted then
    local key_type = key_types[op.key]
    if not key_type then
      key_type = redis.call('TYPE', op.key).ok
      key_types[op.key] = key_type
    end
    if key_type ~= 'none' and key_type ~= wanted then
      return { 2, i - 1, key_type }
    end
  end
  -- HINCRBY fails on a non-integer field; find that out before writing.
  if op.code == 'hincrby' then
    local current = redis.call('HGET', op.key, op.args[1])
    if current and not (string.match(current, '^%-?%d+$') and #current <= 19) then
      return { 3, i - 1, current }
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

local replies = { 1 }
for i, op in ipairs(ops) do
  local code, key, args = op.code, op.key, op.args
  local reply
  if code == 'hgetall' then
    reply = redis.call('HGETALL', key)
  elseif code == 'hget' then
    reply = redis.call('HGET', key, args[1])
  elseif code == 'hmget' then
    reply = redis.call('HMGET', key, unpack(args))
  elseif code == 'hset' then
    reply = redis.call('HSET', key, unpack(args))
  elseif code == 'hincrby' then
    reply = redis.call('HINCRBY', key, args[1], args[2])
  elseif code == 'set' then
    if args[2] then
      redis.call('SET', key, args[1], 'PX', args[2])
    else
      redis.call('SET', key, args[1])
    end
    reply = 1
  elseif code == 'exists' then
    reply = redis.call('EXISTS', key)
  elseif code == 'pttl' then
    reply = redis.call('PTTL', key)
  elseif code == 'pexpire' then
    reply = redis.call('PEXPIRE', key, args[1])
  elseif code == 'del' then
    reply = redis.call('DEL', key)
  elseif code == 'sadd' then
    reply = redis.call('SADD', key, unpack(args))
  elseif code == 'srem' then
    reply = redis.call('SREM', key, unpack(args))
  elseif code == 'scard' then
    reply = redis.call('SCARD', key)
  elseif code == 'sscan' then
    reply = members_of_scan(redis.call('SSCAN', key, args[1], 'COUNT', args[2]), false)
  elseif code == 'zadd' then
    reply = redis.call('ZADD', key, unpack(args))
  elseif code == 'zrem' then
    reply = redis.call('ZREM', key, unpack(args))
  elseif code == 'zcard' then
    reply = redis.call('ZCARD', key)
  elseif code == 'zscore' then
    reply = redis.call('ZSCORE', key, args[1])
  elseif code == 'zrevrange' then
    reply = redis.call('ZREVRANGE', key, args[1], args[2])
  elseif code == 'zscan' then
    reply = members_of_scan(redis.call('ZSCAN', key, args[1], 'COUNT', args[2]), true)
  end
  replies[i + 1] = reply
end
return replies
