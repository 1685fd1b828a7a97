import {existsSync} from 'node:fs';
import {mkdtemp, readdir, rm} from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {Redis} from 'ioredis';
import {describe, expect, it} from 'vitest';
import {ActionableError} from '../source/core/errors.js';
import {
	findPostgresBinaries,
	parsePostgresVersion,
	probeDockerEngine,
	provisionServices,
	s3FromUrl,
	startLocalPostgres,
	startLocalRedis,
	startLocalS3,
	type ProvisionEvent,
} from '../source/core/provision/index.js';
import {query} from './support/sql.js';

const isRoot = process.getuid?.() === 0;

/** 'refused' once nothing listens on the port any more. */
async function tcpState(port: number): Promise<'open' | 'refused' | string> {
	return new Promise(resolve => {
		const socket = net.connect({host: '127.0.0.1', port});
		socket.once('connect', () => {
			socket.destroy();
			resolve('open');
		});
		socket.once('error', (error: NodeJS.ErrnoException) => {
			resolve(error.code === 'ECONNREFUSED' ? 'refused' : String(error.code));
		});
	});
}

function portOf(url: string): number {
	return Number(new URL(url).port);
}


/** A stand-in Docker engine: answers GET /_ping like dockerd does, or never answers. */
async function withPingServer<T>(
	listen: {path: string} | {port: 0; host: '127.0.0.1'},
	behaviour: 'ok' | 'silent',
	work: (address: string | net.AddressInfo) => Promise<T>,
): Promise<T> {
	const server = http.createServer((request, response) => {
		if (behaviour === 'ok' && request.url === '/_ping') {
			response.end('OK');
		}
	});
	await new Promise<void>(resolve => server.listen(listen, resolve));
	try {
		return await work(server.address() as string | net.AddressInfo);
	} finally {
		server.closeAllConnections();
		await new Promise(resolve => server.close(resolve));
	}
}

describe('Docker engine probe', () => {
	const noDockerHere = !process.env['DOCKER_HOST'] && !existsSync('/var/run/docker.sock');

	it.skipIf(!noDockerHere)('says no quickly on this machine, where no engine runs', async () => {
		const started = performance.now();
		const probe = await probeDockerEngine();
		expect(probe).toMatchObject({available: false, endpoint: 'unix:///var/run/docker.sock'});
		expect(performance.now() - started).toBeLessThan(2000);
	});

	it('honours DOCKER_HOST and reports why an engine is missing', async () => {
		const probe = await probeDockerEngine({env: {DOCKER_HOST: 'unix:///nonexistent/docker.sock'}});
		expect(probe.available).toBe(false);
		expect(probe.endpoint).toBe('unix:///nonexistent/docker.sock');
		expect(probe.detail).toMatch(/ENOENT/);
	});

	it('says yes when /_ping answers OK on a unix socket or over tcp', async () => {
		const directory = await mkdtemp(path.join(tmpdir(), 'msdb-ping-'));
		try {
			const socketPath = path.join(directory, 'docker.sock');
			await withPingServer({path: socketPath}, 'ok', async () => {
				const probe = await probeDockerEngine({env: {DOCKER_HOST: `unix://${socketPath}`}});
				expect(probe).toMatchObject({available: true, detail: 'answered /_ping'});
			});
		} finally {
			await rm(directory, {recursive: true, force: true});
		}

		await withPingServer({port: 0, host: '127.0.0.1'}, 'ok', async address => {
			const {port} = address as net.AddressInfo;
			const probe = await probeDockerEngine({env: {DOCKER_HOST: `tcp://127.0.0.1:${port}`}});
			expect(probe.available).toBe(true);
		});
	});

	it('gives up at its deadline when the engine accepts but never answers', async () => {
		await withPingServer({port: 0, host: '127.0.0.1'}, 'silent', async address => {
			const {port} = address as net.AddressInfo;
			const started = performance.now();
			const probe = await probeDockerEngine({env: {DOCKER_HOST: `tcp://127.0.0.1:${port}`}, timeoutMs: 300});
			expect(probe).toMatchObject({available: false, detail: 'no answer within 300 ms'});
			expect(performance.now() - started).toBeLessThan(1500);
		});
	});
});

describe('PostgreSQL binaries', () => {
	it('parses server and pg_dump version lines', () => {
		expect(parsePostgresVersion('postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)')).toEqual({
			version: '15.20',
			majorVersion: 15,
		});
		expect(parsePostgresVersion('pg_dump (PostgreSQL) 17beta1')).toEqual({version: '17', majorVersion: 17});
		expect(parsePostgresVersion('something else')).toBeUndefined();
	});

	it('finds initdb and postgres with their major version', async () => {
		const binaries = await findPostgresBinaries();
		expect(binaries).toBeDefined();
		expect(binaries?.majorVersion).toBeGreaterThanOrEqual(13);
		expect(path.basename(binaries?.initdb ?? '')).toBe('initdb');
		expect(path.basename(binaries?.postgres ?? '')).toBe('postgres');
	});
});

describe('local PostgreSQL', () => {
	it('starts a private server that answers queries, and stop() shuts it down and deletes its files', async () => {
		const server = await startLocalPostgres();
		const port = portOf(server.url);
		const dataDirectory = server.dataDirectory ?? '';
		try {
			expect(server.source).toBe('local');
			expect(server.url).toBe(`postgres://postgres@127.0.0.1:${port}/postgres`);
			const [row] = await query<{version: string; fsync: string; directory: string}>(
				server.url,
				"SELECT version(), current_setting('fsync') AS fsync, current_setting('data_directory') AS directory",
			);
			expect(row?.version).toMatch(new RegExp(`^PostgreSQL ${server.majorVersion}\\.`));
			expect(row?.fsync).toBe('off');
			expect(row?.directory.startsWith(dataDirectory)).toBe(true);
			expect(existsSync(dataDirectory)).toBe(true);
		} finally {
			await server.stop();
		}

		expect(await tcpState(port)).toBe('refused');
		expect(existsSync(dataDirectory)).toBe(false);
		await server.stop(); // idempotent
	});

	it.skipIf(!isRoot)('as root, refuses clearly when the OS user to run PostgreSQL as is missing', async () => {
		const attempt = startLocalPostgres({osUser: 'msdb-no-such-user'});
		await expect(attempt).rejects.toBeInstanceOf(ActionableError);
		await expect(attempt).rejects.toMatchObject({
			code: 'E_SERVICE_UNAVAILABLE',
			message: expect.stringMatching(/runs as root.*no 'msdb-no-such-user' OS user/),
			nextStep: expect.stringContaining('useradd'),
		});
	});
});

describe('local Redis', () => {
	it('starts an empty private server in an empty directory, and stop() removes both', async () => {
		const server = await startLocalRedis();
		const port = portOf(server.url);
		const directory = server.dataDirectory ?? '';
		const client = new Redis(server.url, {lazyConnect: true, maxRetriesPerRequest: 0});
		try {
			expect(server.source).toBe('local');
			expect(server.url).toBe(`redis://127.0.0.1:${port}`);
			expect(await readdir(directory)).toEqual([]);
			await client.connect();
			expect(await client.dbsize()).toBe(0);
			expect(await client.config('GET', 'dir')).toEqual(['dir', directory]);
			expect(await client.config('GET', 'save')).toEqual(['save', '']);
			await client.set('greeting', 'hello');
			expect(await client.get('greeting')).toBe('hello');
		} finally {
			client.disconnect();
			await server.stop();
		}

		expect(await tcpState(port)).toBe('refused');
		expect(existsSync(directory)).toBe(false);
		await server.stop(); // idempotent
	});
});

describe('local S3 (s3rver)', () => {
	// No S3 client is installed, and s3rver accepts unsigned requests: plain HTTP exercises it.
	it('stores and returns objects in its bucket, and stop() closes it and deletes its files', async () => {
		const s3 = await startLocalS3({bucket: 'round-trip'});
		const directory = s3.dataDirectory ?? '';
		const port = portOf(s3.endpoint);
		try {
			expect(s3).toMatchObject({source: 'local', bucket: 'round-trip', accessKeyId: 'S3RVER', region: 'us-east-1'});
			expect(s3.url).toBe(`http://S3RVER:S3RVER@127.0.0.1:${port}/round-trip`);
			const put = await fetch(`${s3.endpoint}/round-trip/folder/hello.txt`, {method: 'PUT', body: 'hello s3'});
			expect(put.status).toBe(200);
			const get = await fetch(`${s3.endpoint}/round-trip/folder/hello.txt`);
			expect(await get.text()).toBe('hello s3');
			const listing = await (await fetch(`${s3.endpoint}/round-trip?prefix=folder/`)).text();
			expect(listing).toContain('<Key>folder/hello.txt</Key>');
			const missing = await fetch(`${s3.endpoint}/no-such-bucket/x`);
			expect(missing.status).toBe(404);
		} finally {
			await s3.stop();
		}

		expect(await tcpState(port)).toBe('refused');
		expect(existsSync(directory)).toBe(false);
		await s3.stop(); // idempotent
	});
});

describe('provisionServices', () => {
	it('uses URLs given by the caller as they are, starting and probing nothing', async () => {
		const events: ProvisionEvent[] = [];
		const services = await provisionServices({
			postgres: {url: 'postgres://app:pg-secret@db.example:5433/app'},
			redis: {url: 'redis://cache.example:6380/2'},
			s3: {url: 'http://AKID:s3-secret@minio.example:9000/backups?region=eu-west-1'},
			onEvent: event => events.push(event),
		});
		expect(services.postgres).toMatchObject({source: 'environment', url: 'postgres://app:pg-secret@db.example:5433/app'});
		expect(services.redis).toMatchObject({source: 'environment', url: 'redis://cache.example:6380/2'});
		expect(services.s3).toMatchObject({
			source: 'environment',
			endpoint: 'http://minio.example:9000',
			bucket: 'backups',
			region: 'eu-west-1',
			accessKeyId: 'AKID',
			secretAccessKey: 's3-secret',
		});
		expect(services.postgres.description).not.toContain('pg-secret');
		expect(events.map(event => event.type)).toEqual(['service:ready', 'service:ready', 'service:ready']);
		await services.stopAll();
	});

	it('rejects a malformed S3 URL without printing its secret', () => {
		let thrown: unknown;
		try {
			s3FromUrl('http://AKID:very-secret-key@minio.example:9000');
		} catch (error) {
			thrown = error;
		}

		expect(thrown).toBeInstanceOf(ActionableError);
		expect((thrown as ActionableError).code).toBe('E_CONFIG_INVALID');
		expect((thrown as ActionableError).message).not.toContain('very-secret-key');
	});

	it('starts all three locally in parallel when Docker is not used, and stopAll() stops them', async () => {
		const events: ProvisionEvent[] = [];
		const services = await provisionServices({
			postgres: {},
			redis: {},
			s3: {},
			docker: false,
			onEvent: event => events.push(event),
		});
		const ports = [portOf(services.postgres.url), portOf(services.redis.url), portOf(services.s3.endpoint)];
		try {
			expect(services.services.map(service => [service.service, service.source])).toEqual([
				['postgres', 'local'],
				['redis', 'local'],
				['s3', 'local'],
			]);
			expect(services.s3.bucket).toBe('msdb-test');
			expect(events.some(event => event.type === 'docker:probed')).toBe(false);
			const [row] = await query<{answer: number}>(services.postgres.url, 'SELECT 42 AS answer');
			expect(row?.answer).toBe(42);
			for (const port of ports) {
				expect(await tcpState(port)).toBe('open');
			}
		} finally {
			await services.stopAll();
		}

		for (const port of ports) {
			expect(await tcpState(port)).toBe('refused');
		}
	});
});
