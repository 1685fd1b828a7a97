/**
 * manifest.json: ids and keys, the canonical JSON and its checksum (checked against jq, so the
 * "re-check it by hand" recipe in the docs holds), and every refusal naming its problem.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {describe, expect, it} from 'vitest';
import {
	artifactKey,
	backupIdTime,
	isBackupId,
	manifestChecksum,
	manifestKey,
	newBackupId,
	parseManifest,
	serializeManifest,
	verificationKey,
} from '../source/core/backup/backup-manifest.js';
import {canonicalJson} from '../source/core/backup/canonical-json.js';
import {BugError} from '../source/core/errors.js';
import {sampleManifest} from './support/backup-fixtures.js';

const ID = '20250102T030405Z-0a1b2c';
const hasJq = spawnSync('jq', ['--version']).status === 0;

/** A manifest edited after sealing, then sealed again: only the edit is wrong, not the checksum. */
function resealed(edit: (manifest: any) => void, id = ID): string {
	const manifest = structuredClone(serializeManifest(sampleManifest(id)).manifest) as any;
	edit(manifest);
	delete manifest.manifestSha256;
	return JSON.stringify({...manifest, manifestSha256: manifestChecksum(manifest)});
}

function refusal(text: string | Buffer, options: {expectedId?: string} = {}): any {
	try {
		parseManifest(text, options);
	} catch (error) {
		return error;
	}

	throw new Error('parseManifest accepted the manifest');
}

describe('backup ids and keys', () => {
	it('makes sortable, unique ids from the start time', () => {
		const id = newBackupId(new Date('2025-01-02T03:04:05.678Z'));
		expect(id).toMatch(/^20250102T030405Z-[\da-f]{6}$/);
		expect(isBackupId(id)).toBe(true);
		expect(backupIdTime(id)?.toISOString()).toBe('2025-01-02T03:04:05.000Z');
		const many = new Set(Array.from({length: 200}, () => newBackupId(new Date('2025-01-02T03:04:05Z'))));
		expect(many.size).toBe(200);
		expect(newBackupId(new Date('2024-12-31T23:59:59Z')) < id).toBe(true);
		for (const notAnId of ['', '20250102T030405Z', '20250102T030405Z-0A1B2C', '2025-01-02T03:04:05Z-0a1b2c', '../20250102T030405Z-0a1b2c', 'backups']) {
			expect(isBackupId(notAnId), notAnId).toBe(false);
		}
	});

	it('lays out a backup folder: manifest, artifacts, verification records', () => {
		expect(manifestKey(ID)).toBe(`${ID}/manifest.json`);
		expect(artifactKey(ID, 'postgres.dump')).toBe(`${ID}/postgres.dump`);
		expect(verificationKey(ID, new Date('2025-02-03T04:05:06.789Z'))).toBe(`${ID}/verification-20250203T040506789Z.json`);
		expect(verificationKey(ID, new Date('2025-02-03T04:05:06.789Z')) < verificationKey(ID, new Date('2025-02-03T04:05:06.790Z'))).toBe(true);
		for (const name of ['../postgres.dump', 'a/b', 'manifest.json', 'verification-20250203T040506789Z.json', '']) {
			expect(() => artifactKey(ID, name), name).toThrow(BugError);
		}

		expect(() => manifestKey('../etc')).toThrow(expect.objectContaining({code: 'E_BAD_ARGUMENT'}));
	});
});

describe('canonical JSON', () => {
	it('sorts keys by code point at every level, integer-like keys included, and drops undefined', () => {
		const value = {b: 1, a: {'10': true, '3': null, z: [3, {y: 'ü', x: undefined}]}, c: undefined};
		expect(canonicalJson(value)).toBe('{"a":{"10":true,"3":null,"z":[3,{"y":"ü"}]},"b":1}');
		expect(canonicalJson(value, {indent: '  '})).toBe('{\n  "a": {\n    "10": true,\n    "3": null,\n    "z": [\n      3,\n      {\n        "y": "ü"\n      }\n    ]\n  },\n  "b": 1\n}');
		expect(() => canonicalJson({n: Number.NaN})).toThrow(TypeError);
	});
});

describe('serializeManifest / parseManifest', () => {
	it('round-trips, with a checksum anyone can recompute from the stored file', () => {
		const {json, manifest} = serializeManifest(sampleManifest(ID));
		expect(manifest.manifestSha256).toMatch(/^[\da-f]{64}$/);
		expect(parseManifest(json, {expectedId: ID})).toEqual(manifest);
		expect(parseManifest(Buffer.from(json), {expectedId: ID})).toEqual(manifest);
		// Stored canonical: sorted keys ("10" before "3"), pretty-printed, one trailing newline.
		expect(json).toBe(`${canonicalJson(manifest, {indent: '  '})}\n`);
		expect(json.indexOf('"10"')).toBeLessThan(json.indexOf('"3"'));
		expect(json.indexOf('"components"')).toBeLessThan(json.indexOf('"formatVersion"'));

		const {manifestSha256: _sealed, ...rest} = manifest;
		expect(createHash('sha256').update(canonicalJson(rest)).digest('hex')).toBe(manifest.manifestSha256);
		// Serialising twice gives the same bytes.
		expect(serializeManifest(sampleManifest(ID)).json).toBe(json);
	});

	it.runIf(hasJq)('matches the by-hand check: jq -cS del(.manifestSha256) | sha256sum', () => {
		const {json, manifest} = serializeManifest(sampleManifest(ID));
		const compact = execFileSync('jq', ['-cS', 'del(.manifestSha256)'], {input: json}).toString().replace(/\n$/, '');
		expect(createHash('sha256').update(compact).digest('hex')).toBe(manifest.manifestSha256);
	});

	it('accepts a Redis-only and a PostgreSQL-only backup', () => {
		for (const only of ['postgres', 'redis'] as const) {
			const {json, manifest} = serializeManifest(sampleManifest(ID, {only}));
			expect(manifest.components).toEqual([only]);
			expect(parseManifest(json).id).toBe(ID);
		}
	});

	it('refuses a wrong checksum, naming both sums', () => {
		const {json, manifest} = serializeManifest(sampleManifest(ID));
		const tampered = JSON.parse(json);
		tampered.postgres.artifact.bytes += 1;
		const error = refusal(JSON.stringify(tampered));
		expect(error).toMatchObject({code: 'E_MANIFEST_INVALID', exitCode: 2, details: expect.objectContaining({kind: 'checksum'})});
		expect(error.message).toContain('checksum mismatch');
		expect(error.message).toContain(manifest.manifestSha256);

		// One flipped character in the stored text is enough.
		const flipped = json.replace('"agents"', '"agentz"');
		expect(refusal(flipped).message).toContain('checksum mismatch');
		expect(refusal(json.replace(manifest.manifestSha256, 'f'.repeat(64))).details.kind).toBe('checksum');
	});

	it('refuses an unknown format version, saying a newer msdb wrote it', () => {
		const error = refusal(resealed(manifest => (manifest.formatVersion = 2)));
		expect(error.details.kind).toBe('format-version');
		expect(error.message).toContain('unknown formatVersion 2');
		expect(error.message).toContain('newer msdb');
		expect(error.nextStep).toContain('upgrade msdb');
	});

	it('refuses a missing or ill-typed field, naming its path', () => {
		const missing = refusal(resealed(manifest => delete manifest.postgres.walLsn));
		expect(missing.details.kind).toBe('schema');
		expect(missing.message).toContain('postgres.walLsn: missing (expected string)');

		const noId = refusal(resealed(manifest => delete manifest.id));
		expect(noId.message).toContain('id: missing');

		const illTyped = refusal(resealed(manifest => (manifest.redis.keysPerDatabase['3'] = '5')));
		expect(illTyped.message).toContain('redis.keysPerDatabase.3');
		const negative = refusal(resealed(manifest => (manifest.postgres.artifact.bytes = -1)));
		expect(negative.message).toContain('postgres.artifact.bytes');
		const badHash = refusal(resealed(manifest => (manifest.redis.artifact.sha256 = 'not-a-hash')));
		expect(badHash.message).toContain('redis.artifact.sha256: expected a lowercase hex sha256');
		const badTime = refusal(resealed(manifest => (manifest.finishedAt = 'yesterday')));
		expect(badTime.message).toContain('finishedAt');
		const extra = refusal(resealed(manifest => (manifest.postgres.compression = 'zstd')));
		expect(extra.message).toContain('postgres.compression: unknown field');
	});

	it('refuses an artifact key outside its own backup folder', () => {
		const outside = [
			['../other/postgres.dump', 'outside the backup folder'],
			[`${ID}/../20240101T000000Z-ffffff/postgres.dump`, '".." segment'],
			[`/${ID}/postgres.dump`, 'absolute'],
			['20240101T000000Z-ffffff/postgres.dump', 'outside the backup folder'],
			[`${ID}x/postgres.dump`, 'outside the backup folder'],
			[`${ID}/manifest.json`, 'names the manifest'],
		] as const;
		for (const [key, problem] of outside) {
			// The checksum is right: only the key check can catch these.
			const error = refusal(resealed(manifest => (manifest.postgres.artifact.key = key)));
			expect(error.details.kind, key).toBe('artifact-key');
			expect(error.message, key).toContain(`postgres.artifact.key ${JSON.stringify(key)}`);
			expect(error.message, key).toContain(problem);
		}
	});

	it('refuses unknown and inconsistent components', () => {
		const unknown = refusal(resealed(manifest => manifest.components.push('mysql')));
		expect(unknown.message).toContain('components[2]: unknown component "mysql"');
		const inconsistent = refusal(resealed(manifest => (manifest.components = ['postgres'])));
		expect(inconsistent.details.kind).toBe('components');
		expect(inconsistent.message).toContain('the redis part is present but components does not list redis');
		const nullPart = refusal(resealed(manifest => (manifest.postgres = null)));
		expect(nullPart.message).toContain('components lists postgres but the postgres part is null');
		const wrongFormat = refusal(resealed(manifest => (manifest.redis.mode = 'dump')));
		expect(wrongFormat.message).toContain('dump-mode backup stores msdb-redis-dump-v1');
	});

	it('refuses a manifest of another backup, and text that is not a manifest', () => {
		const {json} = serializeManifest(sampleManifest(ID));
		const other = refusal(json, {expectedId: '20250102T030405Z-ffffff'});
		expect(other.details.kind).toBe('id-mismatch');
		expect(other.message).toContain(`it describes backup ${ID}, not 20250102T030405Z-ffffff`);
		expect(refusal('{"formatVersion":1,').details.kind).toBe('json');
		expect(refusal('[1,2]').message).toContain('not a JSON object');
	});

	it('refuses to seal a manifest it would later refuse to read', () => {
		const bad = sampleManifest(ID);
		bad.redis = {...bad.redis!, artifact: {...bad.redis!.artifact, key: '../../etc/passwd'}};
		expect(() => serializeManifest(bad)).toThrow(BugError);
		expect(() => serializeManifest(bad)).toThrow('redis.artifact.key');
	});
});
