/**
 * The Lua scripts behind the Redis store's counters. A script runs atomically on the server,
 * so its read and write see no other command between them; each names one key, fine on a Cluster.
 */

/**
 * INCRBY, and the TTL only when this call created the key (PEXPIRE NX would also give a TTL to a
 * live counter that has none). A counter below 0 (older versions' take-backs left -1) counts from 0.
 */
export const INCREMENT_SCRIPT = `local old = tonumber(redis.call('GET', KEYS[1]))
if old ~= nil and old < 0 then redis.call('SET', KEYS[1], '0', 'KEEPTTL') end
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if old == nil and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`

/** DECR only a counter above 0 (nil when absent: GET gives false); nothing is created, the TTL stays. */
export const DECREMENT_IF_POSITIVE_SCRIPT = `local value = tonumber(redis.call('GET', KEYS[1]))
if value == nil or value <= 0 then return false end
return redis.call('DECR', KEYS[1])`

/**
 * Replaces (ARGV[3], keeping the TTL or with ARGV[2] ms) or deletes (ARGV[2] 'delete') the key only
 * while it holds ARGV[1]; 1 when it did. GET of an absent key gives false, never equal to a string.
 */
export const REPLACE_IF_UNCHANGED_SCRIPT = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'delete' then redis.call('DEL', KEYS[1])
elseif ARGV[2] == 'keep' then redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) end
return 1`

/**
 * Store.incrementIfUnder: KEYS the counters, ARGV[1] the bound, ARGV[2] the TTL in ms, ARGV[2 + i]
 * KEYS[i]'s weight. Each counter read as a count (absent, below 0 or not a safe whole number: 0);
 * while the weighed sum is under the bound, the first is incremented as INCREMENT_SCRIPT does.
 * Answers {1 when it added else 0, count of KEYS[1], count of KEYS[2], …} (counts before the add).
 * It writes with one command, its last (SET with the TTL when absent, SET keeping the TTL when
 * below 0, else INCRBY), so an error reply means nothing was written (RedisStore.mayHaveLanded):
 * Redis refuses a script's writes (OOM, READONLY, MISCONF) before its first one or not at all,
 * and a TTL it refuses fails that one write. (An INCRBY then PEXPIRE could fail after the add.)
 */
export const INCREMENT_IF_UNDER_SCRIPT = `local sum, counts, first = 0, {}, false
for i = 1, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if i == 1 then first = raw end
  local n = tonumber(raw)
  if n == nil or n < 0 or n ~= math.floor(n) or n > 9007199254740991 then n = 0 end
  counts[i] = n
  sum = sum + n * tonumber(ARGV[i + 2])
end
if sum >= tonumber(ARGV[1]) then return {0, unpack(counts)} end
local old = tonumber(first)
if first == false then redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
elseif old ~= nil and old < 0 then redis.call('SET', KEYS[1], '1', 'KEEPTTL')
else redis.call('INCRBY', KEYS[1], 1) end
return {1, unpack(counts)}`
