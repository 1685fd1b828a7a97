import {LuaScript} from '../redis/lua-script.js';

/**
 * The session store's Lua. Every script touches one key, except `readMany` and
 * `regenerateInPlace`, which the store sends with several keys only to a standalone server (on a
 * cluster it sends `readMany` one key at a time and regenerates in two steps), so every script
 * stays within one cluster slot.
 *
 * Time comes from the server (`TIME`), never the caller: the same clock drives key expiry, so
 * the absolute cap and the idle TTL cannot drift apart because an app server's clock is off.
 * Numbers go into Redis through `int()` so they are written as integers, never as `1.7e+12`.
 *
 * Session HASH fields (see session-keys.ts): `m` = `<created ms>|<deadline ms>|<idle ms>|<user>`,
 * and `d:<key>` = JSON, one per data key. The metadata is one field rather than four because
 * every read returns the whole hash: fewer fields is less work for Redis and the client alike.
 */

const PRELUDE = `
local function int(value)
	return string.format('%d', value)
end

local function now_ms()
	local time = redis.call('TIME')
	return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- 'm' = '<created>|<expires>|<idle>|<user>'; the user goes last because it may contain '|'.
local function parse_meta(meta)
	if not meta then
		return nil
	end
	local created, expires, idle, user = string.match(meta, '^(%d+)|(%d+)|(%d+)|(.*)$')
	if not created then
		return nil
	end
	return tonumber(created), tonumber(expires), tonumber(idle), user
end

-- The meta field's value in a flat HGETALL reply (or ARGV-style pair list), or nil.
local function find_meta(pairs, first)
	for i = first, #pairs, 2 do
		if pairs[i] == 'm' then
			return pairs[i + 1]
		end
	end
	return nil
end

-- The touch policy, in one place: extend the idle TTL only when that adds more than
-- touch_after ms (the threshold), and never past the absolute deadline. Near the deadline the
-- target cannot exceed what is left, so reads there write nothing either.
local function touch(key, pttl, now, expires, idle, touch_after)
	local target = math.min(idle, expires - now)
	if target - pttl > touch_after then
		redis.call('PEXPIRE', key, int(target))
		return target, 1
	end
	return pttl, 0
end

-- The session's deadline and idle TTL, or nil when it is gone or past its deadline (then
-- deleted: the key's TTL normally ends it first; this guards the cap against any drift).
local function live_meta(key, meta, now)
	local _, expires, idle = parse_meta(meta)
	if not expires then
		return nil
	end
	if now >= expires then
		redis.call('DEL', key)
		return nil
	end
	return expires, idle
end
`;

function script(name: string, body: string): LuaScript {
	return new LuaScript(name, `-- msdb sessions: ${name}\n${PRELUDE}\n${body}`);
}

/** KEYS: session. ARGV: user, idle ms, absolute ms, then `d:<key>`, json pairs. Returns {now, expires, ttl}. */
export const createScript = script(
	'create',
	`
local now = now_ms()
local idle = tonumber(ARGV[2])
local expires = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'm', int(now) .. '|' .. int(expires) .. '|' .. int(idle) .. '|' .. ARGV[1])
for i = 4, #ARGV, 2 do
	redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local ttl = math.min(idle, expires - now)
redis.call('PEXPIRE', KEYS[1], int(ttl))
return {now, expires, ttl}
`,
);

/**
 * Reads and touches, atomically per session. KEYS: sessions. ARGV: touch_after ms, then one
 * mode per key: 'g' read and touch, 'r' read only, 't' touch only. Returns {now, entry…}: per key
 * false (gone) or {pttl, touched, fields} (fields empty for 't').
 */
export const readManyScript = script(
	'read-many',
	`
local now = now_ms()
local touch_after = tonumber(ARGV[1])
local reply = {now}
for k = 1, #KEYS do
	local key = KEYS[k]
	local mode = ARGV[k + 1]
	local fields, meta
	if mode == 't' then
		fields = {}
		meta = redis.call('HGET', key, 'm')
	else
		fields = redis.call('HGETALL', key)
		meta = find_meta(fields, 1)
	end
	local expires, idle = live_meta(key, meta, now)
	if not expires then
		reply[k + 1] = false
	else
		local pttl = redis.call('PTTL', key)
		local touched = 0
		if mode ~= 'r' then
			pttl, touched = touch(key, pttl, now, expires, idle, touch_after)
		end
		reply[k + 1] = {pttl, touched, fields}
	end
end
return reply
`,
);

/**
 * Field-level update that never resurrects an ended session (a bare HSET would). KEYS: session.
 * ARGV: touch_after ms, n, then n `d:<key>`, json pairs, then the `d:<key>` names to delete.
 * Returns false when the session is gone, else 1.
 */
export const updateScript = script(
	'update',
	`
local now = now_ms()
local expires, idle = live_meta(KEYS[1], redis.call('HGET', KEYS[1], 'm'), now)
if not expires then
	return false
end
local last_set = 2 + 2 * tonumber(ARGV[2])
for i = 3, last_set, 2 do
	redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
for i = last_set + 1, #ARGV do
	redis.call('HDEL', KEYS[1], ARGV[i])
end
touch(KEYS[1], redis.call('PTTL', KEYS[1]), now, expires, idle, tonumber(ARGV[1]))
return 1
`,
);

/**
 * KEYS: session. ARGV: the user it must belong to, or '' for any. Deletes it and returns its
 * user (for the index), or false when it is gone or belongs to someone else.
 */
export const destroyScript = script(
	'destroy',
	`
local _, _, _, user = parse_meta(redis.call('HGET', KEYS[1], 'm'))
if not user or (ARGV[1] ~= '' and ARGV[1] ~= user) then
	return false
end
redis.call('DEL', KEYS[1])
return user
`,
);

/**
 * Regenerate on one server: RENAME moves the data and kills the old token in the same instant,
 * then the idle TTL restarts (regeneration is activity). KEYS: old, new (standalone only: they
 * are in different cluster slots). Returns false, or {now, ttl, fields}.
 */
export const regenerateInPlaceScript = script(
	'regenerate',
	`
local now = now_ms()
local expires, idle = live_meta(KEYS[1], redis.call('HGET', KEYS[1], 'm'), now)
if not expires then
	return false
end
if redis.call('EXISTS', KEYS[2]) == 1 then
	return redis.error_reply('ERR msdb sessions: the regenerated session key already exists')
end
redis.call('RENAME', KEYS[1], KEYS[2])
local ttl = math.min(idle, expires - now)
redis.call('PEXPIRE', KEYS[2], int(ttl))
return {now, ttl, redis.call('HGETALL', KEYS[2])}
`,
);

/**
 * Regenerate on a cluster, step 1 of 2: take the session's fields and delete it in one atomic
 * step, so the old token dies at the instant its data is read and no write to it can be lost
 * in between. KEYS: old. Returns false, or the fields.
 */
export const claimScript = script(
	'claim',
	`
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then
	return false
end
local expires = live_meta(KEYS[1], find_meta(fields, 1), now_ms())
redis.call('DEL', KEYS[1])
if not expires then
	return false
end
return fields
`,
);

/**
 * Regenerate on a cluster, step 2 of 2: write the claimed fields under the new key with a fresh
 * idle TTL (capped by the deadline). KEYS: new. ARGV: the field, value pairs. Returns false when
 * the deadline passed in between, else {now, ttl}.
 */
export const installScript = script(
	'install',
	`
local now = now_ms()
local _, expires, idle = parse_meta(find_meta(ARGV, 1))
if not expires or now >= expires then
	return false
end
if redis.call('EXISTS', KEYS[1]) == 1 then
	return redis.error_reply('ERR msdb sessions: the regenerated session key already exists')
end
for i = 1, #ARGV, 2 do
	redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local ttl = math.min(idle, expires - now)
redis.call('PEXPIRE', KEYS[1], int(ttl))
return {now, ttl}
`,
);

/** Metadata of one session for listings, without its data. KEYS: session. Returns false, or {now, pttl, meta}. */
export const summaryScript = script(
	'summary',
	`
local meta = redis.call('HGET', KEYS[1], 'm')
if not meta then
	return false
end
return {now_ms(), redis.call('PTTL', KEYS[1]), meta}
`,
);

/**
 * Adds a token hash to a user's index (removing another, for regenerate), drops members past
 * their absolute deadline, and keeps the index alive exactly as long as its longest-lived
 * member. Idempotent, so a retried call is harmless. KEYS: index. ARGV: member, deadline ms,
 * member to remove or ''.
 */
export const indexAddScript = script(
	'index-add',
	`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now_ms()))
if ARGV[3] ~= '' then
	redis.call('ZREM', KEYS[1], ARGV[3])
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], int(tonumber(last[2])))
return 1
`,
);

/** Drops index members past their absolute deadline and returns the rest, oldest deadline first. KEYS: index. */
export const indexReadScript = script(
	'index-read',
	`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now_ms()))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`,
);
