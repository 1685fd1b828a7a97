import {BugError} from '../errors.js';
import type {SessionData, SessionPatch} from './session-store.js';

/**
 * Session data ⇄ HASH fields. Each data key is its own field, `d:<key>`, holding that value's
 * JSON; metadata lives in the one field `m`. Keeping keys apart is what lets concurrent updates of
 * different keys both survive, with no read-modify-write of a whole document.
 */

export const DATA_FIELD_PREFIX = 'd:';

/** The session metadata kept next to the data. */
export type SessionMeta = {userId: string; createdAt: number; expiresAt: number};

/** `[field, json, field, json…]` for the keys of `data` whose value is not undefined. */
export function encodeData(data: SessionData): string[] {
	const pairs: string[] = [];
	for (const [key, value] of Object.entries(data)) {
		if (value !== undefined) {
			pairs.push(DATA_FIELD_PREFIX + key, encodeValue(key, value));
		}
	}

	return pairs;
}

/** Splits a patch into fields to set (`[field, json…]`) and fields to delete. */
export function encodePatch(patch: SessionPatch): {set: string[]; remove: string[]} {
	const set: string[] = [];
	const remove: string[] = [];
	for (const [key, value] of Object.entries(patch)) {
		if (value === undefined) {
			remove.push(DATA_FIELD_PREFIX + key);
		} else {
			set.push(DATA_FIELD_PREFIX + key, encodeValue(key, value));
		}
	}

	return {set, remove};
}

function encodeValue(key: string, value: unknown): string {
	let json: string | undefined;
	try {
		json = JSON.stringify(value);
	} catch (error) {
		throw new TypeError(`Session data key ${JSON.stringify(key)} cannot be stored: ${(error as Error).message}`, {cause: error});
	}

	// JSON.stringify returns undefined for functions and symbols: storing that would lose it silently.
	if (json === undefined) {
		throw new TypeError(`Session data key ${JSON.stringify(key)} holds a ${typeof value}, which is not a JSON value.`);
	}

	return json;
}

/** The metadata field: `<created ms>|<deadline ms>|<idle ms>|<user>` (user last: it may contain `|`). */
export const META_FIELD = 'm';

const META_PATTERN = /^(\d+)\|(\d+)\|(\d+)\|/;

/** Reads the metadata field; undefined when it is malformed. */
export function parseMeta(meta: string): SessionMeta | undefined {
	const match = META_PATTERN.exec(meta);
	if (!match) {
		return undefined;
	}

	return {createdAt: Number(match[1]), expiresAt: Number(match[2]), userId: meta.slice(match[0].length)};
}

/** Decodes the `d:` fields of a flat `[field, value, …]` list into session data. */
export function decodeData(fields: readonly string[]): SessionData {
	const data: SessionData = {};
	for (let index = 0; index + 1 < fields.length; index += 2) {
		const field = fields[index]!;
		if (!field.startsWith(DATA_FIELD_PREFIX)) {
			continue;
		}

		const key = field.slice(DATA_FIELD_PREFIX.length);
		const value = decodeValue(field, fields[index + 1]!);
		if (key === '__proto__') {
			// Assignment would set the prototype; a data key of that name must stay a plain key.
			Object.defineProperty(data, key, {value, enumerable: true, writable: true, configurable: true});
		} else {
			data[key] = value;
		}
	}

	return data;
}

/** Reads a flat HGETALL reply (`[field, value, …]`) back into metadata and data. */
export function decodeFields(fields: readonly string[]): {meta: SessionMeta; data: SessionData} {
	let meta: SessionMeta | undefined;
	for (let index = 0; index + 1 < fields.length; index += 2) {
		if (fields[index] === META_FIELD) {
			meta = parseMeta(fields[index + 1]!);
			break;
		}
	}

	if (!meta) {
		throw new BugError('A session HASH in Redis lacks a well-formed metadata field `m`.');
	}

	return {meta, data: decodeData(fields)};
}

function decodeValue(field: string, json: string): unknown {
	try {
		return JSON.parse(json);
	} catch (error) {
		throw new BugError(`Session field ${JSON.stringify(field)} in Redis is not JSON.`, {cause: error});
	}
}
