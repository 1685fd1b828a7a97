import {LuaScript} from '../redis/lua-script.js';

/**
 * The Lua scripts of dual-store coordination. Each is one atomic step on the server, so no
 * reader or writer ever sees half of it, and each compares versions so the Redis copy only moves
 * forward whoever arrives late. The hash layout (`v`, `s`, tombstones) is in agent-state-layout.ts.
 *
 * Versions are formatted with `%.0f`: Lua's tostring turns 10^15 into "1e+15".
 */

/**
 * Puts a version into Redis unless Redis already holds a newer one (or this very copy): the
 * write-through of strong writes, the outbox relay, a read's warm-up, the re-warm after Redis
 * lost its data. Replaces a tombstone of the same or an older version (PostgreSQL has the
 * version being written).
 * Returns {0, held version} when kept; {1, version} when written where there was no copy (no
 * key, a tombstone); {2, version} when it replaced an older copy (one a reader could have seen).
 *
 * KEYS[1] state key; ARGV[1] version; ARGV[2] state JSON; ARGV[3] TTL ms ('0': none).
 */
export const stateSetScript = new LuaScript('agent-state:set', `
local held = redis.call('HMGET', KEYS[1], 'v', 's')
local version = tonumber(ARGV[1])
local outcome = 1
if held[1] then
	local current = tonumber(held[1])
	if current > version or (current == version and held[2]) then
		return {0, held[1]}
	end
	if held[2] then
		outcome = 2
	end
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2])
if tonumber(ARGV[3]) > 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
	redis.call('PERSIST', KEYS[1])
end
return {outcome, ARGV[1]}
`);

/**
 * Replaces the copy by a tombstone of `version` unless Redis holds a newer version: the
 * invalidation of postgres-first writes. The tombstone expires (ARGV[2]) so agents never read
 * again do not keep one forever; by then any read that loaded an older row has long finished.
 * Returns 1 when written, 0 when a newer version was kept.
 *
 * KEYS[1] state key; ARGV[1] version; ARGV[2] tombstone TTL ms.
 */
export const stateInvalidateScript = new LuaScript('agent-state:invalidate', `
local held = redis.call('HGET', KEYS[1], 'v')
if held and tonumber(held) > tonumber(ARGV[1]) then
	return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('HDEL', KEYS[1], 's')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/**
 * A redis-first or eventual write: takes the next version from the copy, writes the copy and
 * appends the write-behind entry, in one step (the two keys share a partition's hash tag).
 *
 * Without a copy (never loaded, lost in a restart, a tombstone) there is no version to continue
 * from: the script answers `missing`, the coordinator reads PostgreSQL and calls again with that
 * version as ARGV[4]. So a write never takes a version PostgreSQL already has. A tombstone newer
 * than that reading answers `behind` (read again). An expected version (ARGV[3]) that is not the
 * current one answers `conflict`. The copy loses any TTL: it must not expire before the writer
 * has persisted it (the writer sets the TTL of eventual copies after its commit).
 *
 * Returns {'ok', version, entry id} | {'missing', tombstone version or ''} | {'behind', held} | {'conflict', current}.
 *
 * KEYS[1] state key; KEYS[2] write-behind stream; ARGV[1] agent id; ARGV[2] state JSON;
 * ARGV[3] expected version or ''; ARGV[4] PostgreSQL's version or ''; ARGV[5] level;
 * ARGV[6] changedAt (ISO); ARGV[7] TTL ms once persisted ('0': none).
 */
export const stateWriteBehindScript = new LuaScript('agent-state:write-behind', `
local held = redis.call('HMGET', KEYS[1], 'v', 's')
local current
if held[1] and held[2] then
	current = tonumber(held[1])
elseif ARGV[4] ~= '' then
	current = tonumber(ARGV[4])
	if held[1] and tonumber(held[1]) > current then
		return {'behind', held[1]}
	end
else
	return {'missing', held[1] or ''}
end
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= current then
	return {'conflict', string.format('%.0f', current)}
end
local version = string.format('%.0f', current + 1)
redis.call('HSET', KEYS[1], 'v', version, 's', ARGV[2])
redis.call('PERSIST', KEYS[1])
local id = redis.call('XADD', KEYS[2], '*', 'a', ARGV[1], 'v', version, 's', ARGV[2], 'l', ARGV[5], 't', ARGV[6], 'x', ARGV[7])
return {'ok', version, id}
`);

/**
 * After the write-behind writer committed `version`: starts the TTL of an eventual copy, if the
 * copy is still that version (a newer write is not persisted yet and must not expire).
 * Returns 1 when the TTL was set.
 *
 * KEYS[1] state key; ARGV[1] version; ARGV[2] TTL ms.
 */
export const statePersistedScript = new LuaScript('agent-state:persisted', `
local held = redis.call('HMGET', KEYS[1], 'v', 's')
if held[1] == ARGV[1] and held[2] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return 1
end
return 0
`);

/**
 * Removes the copy of an agent that PostgreSQL no longer has (deleted since), unless Redis holds
 * a newer version than the one that found it missing. Returns 1 when removed.
 *
 * KEYS[1] state key; ARGV[1] version.
 */
export const stateDropScript = new LuaScript('agent-state:drop', `
local held = redis.call('HGET', KEYS[1], 'v')
if held and tonumber(held) <= tonumber(ARGV[1]) then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0
`);

/**
 * Acknowledges write-behind entries and deletes them, in one step: the stream then holds only
 * what is not yet in PostgreSQL, so its length is the writer's backlog. (XACK alone would leave
 * every entry in the stream; a crash between XACK and XDEL would leave one there for good.)
 * Returns the number acknowledged.
 *
 * KEYS[1] stream; ARGV[1] group; ARGV[2..] entry ids.
 */
export const logAckScript = new LuaScript('agent-state:log-ack', `
local ids = {}
for index = 2, #ARGV do
	ids[#ids + 1] = ARGV[index]
end
local acked = redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
redis.call('XDEL', KEYS[1], unpack(ids))
return acked
`);
