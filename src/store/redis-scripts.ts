/**
 * The Lua scripts behind the Redis store's counters. A script runs atomically on the server,
 * so its read and write see no other command between them; each names one key, fine on a Cluster.
 */

/** INCRBY, and the TTL only when this call created the key (PEXPIRE NX would also give a TTL to a live counter that has none). */
export const INCREMENT_SCRIPT = `local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`

/** DECR only a counter above 0 (nil when absent: GET gives false); nothing is created, the TTL stays. */
export const DECREMENT_IF_POSITIVE_SCRIPT = `local value = tonumber(redis.call('GET', KEYS[1]))
if value == nil or value <= 0 then return false end
return redis.call('DECR', KEYS[1])`
