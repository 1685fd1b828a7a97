import {LuaScript} from '../redis/lua-script.js';

/**
 * The cache's Lua scripts. Each touches one key, so each is atomic on a standalone server and
 * on a cluster alike. The entry format they parse is described in l2-entry.ts.
 */

/**
 * Backfill after a load (cache-aside fill), as a compare-and-set against what the loader's
 * caller saw at miss time (`observed`: '' for no entry, else the tombstone it read):
 *
 * - the entry is still what was observed → write, return 1;
 * - a tombstone appeared or changed, or the observed tombstone is gone → an invalidation happened
 *   while the loader ran, so the loaded value may predate it: refuse, return -1 (this is the
 *   "delete-then-reload" race of cache-aside, closed the way Facebook's leases close it);
 * - another instance already filled a value → keep it, unless versions say ours is newer; return 0.
 *
 * KEYS[1] entry key; ARGV[1] entry; ARGV[2] ttl ms; ARGV[3] observed; ARGV[4] version or ''.
 */
export const fillScript = new LuaScript('cache:fill', `
local current = redis.call('GET', KEYS[1])
if current then
	if string.sub(current, 1, 1) == 'T' then
		if current ~= ARGV[3] then return -1 end
	else
		if ARGV[4] == '' then return 0 end
		local version = string.match(current, '^V(%d+)|')
		if version and tonumber(version) >= tonumber(ARGV[4]) then return 0 end
	end
elseif ARGV[3] ~= '' then
	return -1
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

/**
 * An explicit versioned set: writes unless the stored value carries a higher version. Replaces
 * tombstones (an explicit set is authoritative). Returns 1 written, 0 refused.
 *
 * KEYS[1] entry key; ARGV[1] entry; ARGV[2] ttl ms; ARGV[3] version.
 */
export const versionedSetScript = new LuaScript('cache:versionedSet', `
local current = redis.call('GET', KEYS[1])
if current then
	local version = string.match(current, '^V(%d+)|')
	if version and tonumber(version) > tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

/**
 * Takes the next invalidation sequence number and publishes the message carrying it, in one
 * atomic step, so messages leave Redis in sequence order and a receiver can trust a gap to mean
 * a lost message. The hash also holds an epoch, created with the counter: if Redis loses the
 * counter (restart without persistence, FLUSHALL), the new epoch tells receivers the numbering
 * restarted. Returns {epoch, n}.
 *
 * KEYS[1] sequence hash; ARGV[1] channel; ARGV[2] epoch to use if the counter is new; ARGV[3] message body.
 */
export const publishInvalidationScript = new LuaScript('cache:publishInvalidation', `
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('PUBLISH', ARGV[1], '1|' .. epoch .. '|' .. n .. '|' .. ARGV[3])
return {epoch, n}
`);

/**
 * Releases a loader lease only if this holder still owns it (its token), so a holder that
 * overran its lease cannot release the next holder's. KEYS[1] lease key; ARGV[1] token.
 */
export const releaseLeaseScript = new LuaScript('cache:releaseLease', `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`);

/**
 * Records that a key was written with a tag. The tag's set is a sorted set scored by each
 * member's expiry, so members whose entry has expired are pruned on every add and the set stays
 * as large as the live entries, not as every key ever tagged; the set itself expires with its
 * longest-lived member.
 *
 * KEYS[1] tag key; ARGV[1] member (cache key); ARGV[2] member expiry (epoch ms); ARGV[3] now (epoch ms); ARGV[4] ttl ms.
 */
export const tagAddScript = new LuaScript('cache:tagAdd', `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
	redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
`);
