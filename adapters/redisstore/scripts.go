package redisstore

import "github.com/redis/go-redis/v9"

// The scripts touch only keys of one namespace. KEYS[1] is declared and
// routes the call; the other keys are built from the namespace's base (the
// part up to and including the hash tag) and so live in the same slot, which
// Redis Cluster allows a script to access. Revisions are 32 hex digits
// compared in four 32-bit chunks, which Lua's doubles hold exactly; leading
// chunks that are equal are skipped by string equality, cheaper than
// tonumber. (A plain < on the strings would follow Redis's collation
// locale, which may not order hex digits as bytes.)

// luaCommon holds helpers shared by the scripts.
const luaCommon = `
local function esc(s)
  return (string.gsub(s, "[^0-9A-Za-z_%.%-]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end
local function older(a, b)
  if a == b then return false end
  local sub = string.sub
  local i = 1
  if sub(a, 1, 24) == sub(b, 1, 24) then
    i = 25
  else
    while i < 25 and sub(a, i, i + 7) == sub(b, i, i + 7) do i = i + 8 end
  end
  return tonumber(sub(a, i, i + 7), 16) < tonumber(sub(b, i, i + 7), 16)
end
`

// applyScript applies a batch.
//
//	KEYS[1]  the namespace's meta hash
//	ARGV     base, has-checkpoint ("1"/"0"), checkpoint, number of writes,
//	         has-condition ("1"/"0"), expected checkpoint,
//	         then per write: esc(id), its head (the 32-digit revision, the
//	         op "p" or "d", then the number of entries in decimal), data,
//	         then per entry: esc(index), entry key
//
// A write's revision, op and entry count travel as one argument: Redis
// spends about as much on each argument as on a short string.sub.
// It returns the 0-based indexes of the writes the version guard ignored,
// or the error CHECKPOINT_MISMATCH, having written nothing, when the
// condition does not hold.
var applyScript = redis.NewScript(luaCommon + `
local call, sub = redis.call, string.sub
local base = ARGV[1]
local n = tonumber(ARGV[4])
if ARGV[5] == "1" then
  local stored = call("HGET", KEYS[1], "cp") or ""
  if stored ~= ARGV[6] then
    return redis.error_reply("CHECKPOINT_MISMATCH")
  end
end
local p = 7
local stale = {}
for i = 0, n - 1 do
  local dkey = base .. "d:" .. ARGV[p]
  local head, data = ARGV[p + 1], ARGV[p + 2]
  local rev, op, ne = sub(head, 1, 32), sub(head, 33, 33), tonumber(sub(head, 34))
  local ep = p + 3
  p = ep + 2 * ne
  local cur = call("HMGET", dkey, "r", "x")
  if cur[1] and not older(cur[1], rev) then
    stale[#stale + 1] = i
  else
    local old = cur[2]
    if old then
      local list = cmsgpack.unpack(old)
      for j = 1, #list, 2 do
        call("ZREM", base .. "i:" .. list[j], list[j + 1])
      end
    end
    if op == "d" then
      call("HDEL", dkey, "v", "x")
      call("HSET", dkey, "r", rev)
    else
      local list = {}
      for j = ep, p - 1, 2 do
        call("ZADD", base .. "i:" .. ARGV[j], 0, ARGV[j + 1])
        list[#list + 1] = ARGV[j]
        list[#list + 1] = ARGV[j + 1]
      end
      if ne > 0 then
        call("HSET", dkey, "r", rev, "v", data, "x", cmsgpack.pack(list))
      else
        if old then call("HDEL", dkey, "x") end
        call("HSET", dkey, "r", rev, "v", data)
      end
    end
  end
end
call("HSET", KEYS[1], "init", "1")
if ARGV[2] == "1" then
  call("HSET", KEYS[1], "cp", ARGV[3])
end
return stale
`)

// queryScript reads a page of an index and its documents in one step.
//
//	KEYS[1]  the index's sorted set
//	ARGV     base, min, max (ZRANGEBYLEX syntax), count, descending ("1"/"0")
//
// It returns, per entry: the entry key, the document's revision and data
// (nil when the document is missing, which a consistent store never shows).
var queryScript = redis.NewScript(luaCommon + `
local base = ARGV[1]
local members
if ARGV[5] == "1" then
  members = redis.call("ZREVRANGEBYLEX", KEYS[1], ARGV[3], ARGV[2], "LIMIT", 0, ARGV[4])
else
  members = redis.call("ZRANGEBYLEX", KEYS[1], ARGV[2], ARGV[3], "LIMIT", 0, ARGV[4])
end
local out = {}
for _, m in ipairs(members) do
  local id
  if string.byte(m, 1) == 32 then
    local _, e = string.find(m, "%z\1", 2)
    id = string.sub(m, e + 1)
  else
    id = string.sub(m, 10)
  end
  local d = redis.call("HMGET", base .. "d:" .. esc(id), "r", "v")
  out[#out + 1] = m
  out[#out + 1] = d[1]
  out[#out + 1] = d[2]
end
return out
`)
