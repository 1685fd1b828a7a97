/**
 * openBackupTarget: `--target` / MSDB_BACKUP_TARGET values and the S3 environment, end to end
 * against the S3 server of the global setup and real directories; every refusal names the value
 * (credentials masked) and the accepted forms.
 */
import {randomBytes} from 'node:crypto';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {afterAll, describe, expect, inject, it} from 'vitest';
import {openBackupTarget} from '../source/core/backup/targets/open-backup-target.js';
import {s3ClientSettingsFromEnvironment} from '../source/core/backup/targets/s3-client.js';
import {LazyTarget} from '../source/core/backup/targets/lazy-target.js';

const directories: string[] = [];
afterAll(async () => {
	await Promise.all(directories.map(async directory => rm(directory, {recursive: true, force: true})));
});

function s3Environment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
	const s3 = inject('s3');
	return {S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region, ...extra};
}

function refusal(run: () => unknown): any {
	try {
		run();
	} catch (error) {
		return error;
	}

	throw new Error('the target was accepted');
}

describe('openBackupTarget', () => {
	it('opens s3://bucket/prefix with the endpoint and keys from the environment', async () => {
		const s3 = inject('s3');
		const prefix = `open/${randomBytes(4).toString('hex')}`;
		for (const env of [s3Environment(), {...s3Environment({AWS_ENDPOINT_URL_S3: s3.endpoint}), S3_ENDPOINT: undefined}]) {
			const target = openBackupTarget(`s3://${s3.bucket}/${prefix}/`, env);
			expect(target).toBeInstanceOf(LazyTarget);
			expect(target.display).toBe(`s3://${s3.bucket}/${prefix}`);
			await target.putBytes('20250102T030405Z-0a1b2c/manifest.json', 'hello');
			expect((await target.getBytes('20250102T030405Z-0a1b2c/manifest.json')).toString()).toBe('hello');
		}

		// The prefix is where objects go: the same object, through a target on the bucket root.
		const root = openBackupTarget(`s3://${s3.bucket}`, s3Environment());
		expect(await root.exists(`${prefix}/20250102T030405Z-0a1b2c/manifest.json`)).toBe(true);
		expect(await root.deletePrefix(`${prefix}/`)).toBe(1);
	});

	it('opens absolute, relative and file:// directories', async () => {
		const root = await mkdtemp(path.join(tmpdir(), 'msdb-open-'));
		directories.push(root);
		const absolute = openBackupTarget(root);
		expect(absolute).toBeInstanceOf(LazyTarget);
		expect(absolute.display).toBe(root);
		const relative = openBackupTarget(path.relative(process.cwd(), path.join(root, 'sub')));
		expect(relative.display).toBe(path.join(root, 'sub'));
		await relative.putBytes('x/y', 'via a relative path');
		const viaUrl = openBackupTarget(pathToFileURL(path.join(root, 'sub')).href);
		expect((await viaUrl.getBytes('x/y')).toString()).toBe('via a relative path');
	});

	it('refuses unusable targets, naming the value and the accepted forms', () => {
		const cases: Array<[string, string]> = [
			['', 'it is empty'],
			['   ', 'it is empty'],
			['gs://bucket/backups', 'over gs://'],
			['https://s3.amazonaws.com/bucket', 'over https://'],
			['s3://', 'names no bucket'],
			['s3://Bad_Bucket/x', 'not a valid bucket name'],
			['s3://ab/x', 'not a valid bucket name'],
			['s3://bucket/a/../b', '".." segment'],
			['s3://bucket/x?versionId=3', 'no query string'],
		];
		for (const [value, problem] of cases) {
			const error = refusal(() => openBackupTarget(value, {}));
			expect(error, value).toMatchObject({code: 'E_BACKUP_TARGET_INVALID', exitCode: 2});
			expect(error.message, value).toContain(problem);
			expect(error.message, value).toContain(JSON.stringify(value.trim()));
			expect(error.nextStep, value).toContain('s3://bucket/prefix');
			expect(error.nextStep, value).toContain('directory');
		}
	});

	it('never echoes credentials put in the target URL or the endpoint', () => {
		const inUrl = refusal(() => openBackupTarget('s3://AKIAOPENTEST0001:open-test-secret-93@bucket/prod', {}));
		expect(inUrl.code).toBe('E_BACKUP_TARGET_INVALID');
		expect(inUrl.message).toContain('credentials do not belong in the URL');
		expect(JSON.stringify([inUrl.message, inUrl.nextStep, inUrl.details])).not.toMatch(/AKIAOPENTEST0001|open-test-secret-93/);

		const inEndpoint = refusal(() => openBackupTarget('s3://bucket/prod', {S3_ENDPOINT: 'http://minio:endpoint-secret-77@127.0.0.1:9000'}));
		expect(inEndpoint.message).toContain('S3_ENDPOINT');
		expect(inEndpoint.message).toContain('carries credentials');
		expect(JSON.stringify([inEndpoint.message, inEndpoint.nextStep, inEndpoint.details])).not.toMatch(/endpoint-secret-77|minio:/);

		for (const [variable, value, problem] of [
			['S3_ENDPOINT', 'ftp://127.0.0.1:21', 'scheme is ftp'],
			['AWS_ENDPOINT_URL_S3', 'not a url', 'not a URL'],
			['S3_ENDPOINT', 'http://127.0.0.1:9000/bucket', 'has a path'],
			['MSDB_S3_PART_SIZE_MIB', '1', 'MSDB_S3_PART_SIZE_MIB=1'],
		] as const) {
			const error = refusal(() => openBackupTarget('s3://bucket/prod', {[variable]: value}));
			expect(error, variable).toMatchObject({code: 'E_BACKUP_TARGET_INVALID'});
			expect(error.message, variable).toContain(problem);
		}
	});
});

describe('s3ClientSettingsFromEnvironment', () => {
	it('reads region, endpoint and keys from the given environment', () => {
		expect(s3ClientSettingsFromEnvironment({})).toEqual({region: 'us-east-1'});
		expect(s3ClientSettingsFromEnvironment({AWS_REGION: 'eu-west-3'}).region).toBe('eu-west-3');
		expect(s3ClientSettingsFromEnvironment({S3_ENDPOINT: 'http://a:9000/', AWS_ENDPOINT_URL_S3: 'http://b:9000'}).endpoint).toBe('http://a:9000');
		expect(s3ClientSettingsFromEnvironment({AWS_ENDPOINT_URL_S3: 'https://b.example'}).endpoint).toBe('https://b.example');
		// One key alone is not a credential: the SDK's chain (profile, SSO, roles) decides then.
		expect(s3ClientSettingsFromEnvironment({AWS_ACCESS_KEY_ID: 'AKIAONLYKEY'}).credentials).toBeUndefined();
		expect(s3ClientSettingsFromEnvironment({AWS_ACCESS_KEY_ID: 'AKIAKEY', AWS_SECRET_ACCESS_KEY: 'shh-secret', AWS_SESSION_TOKEN: 'tok-123'}).credentials).toEqual({
			accessKeyId: 'AKIAKEY',
			secretAccessKey: 'shh-secret',
			sessionToken: 'tok-123',
		});
	});
});
