/**
 * `msdb sessions count | list | revoke` as scripts run them: the built CLI as its own process,
 * against a real standalone server and a real cluster, seeded through the library. Run
 * `npm run build` first (`npm test` does).
 */
import {tmpdir} from 'node:os';
import {afterAll, beforeAll, beforeEach, expect, it} from 'vitest';
import type {RedisClient} from '../source/core/redis/redis-client.js';
import {RedisSessionStore, type IssuedSession} from '../source/core/sessions/index.js';
import {describeForEachRedisTarget, type RedisTarget} from './support/redis-targets.js';
import {runMsdb, type MsdbRun} from './support/run-msdb.js';

const ENV = 'clitest';
const SECRET_DATA = 'do-not-print-this-value';

describeForEachRedisTarget('msdb sessions', (target: () => RedisTarget) => {
	let client: RedisClient;
	let store: RedisSessionStore;
	let alice: IssuedSession[];
	let bob: IssuedSession[];
	const outputs: string[] = [];
	const issued: IssuedSession[] = [];

	const msdb = async (...args: string[]): Promise<MsdbRun> => {
		const run = await runMsdb(['sessions', ...args], {cwd: tmpdir(), env: {REDIS_URL: target().url, MSDB_ENV: ENV}});
		outputs.push(run.stdout, run.stderr);
		return run;
	};

	beforeAll(() => {
		client = target().connect();
		store = new RedisSessionStore(client, {env: ENV});
	});
	beforeEach(async () => {
		await target().flush();
		alice = await Promise.all(Array.from({length: 3}, async (_, index) => store.create('alice', {index, secret: SECRET_DATA})));
		bob = await Promise.all(Array.from({length: 2}, async () => store.create('bob', {secret: SECRET_DATA})));
		issued.push(...alice, ...bob);
		// A session of the same user in another environment: never counted, listed or revoked here.
		await new RedisSessionStore(client, {env: 'elsewhere'}).create('alice', {});
	});
	afterAll(async () => {
		// Whatever any command printed, human or JSON, success or failure: no token, no data.
		const printed = outputs.join('\n');
		expect(printed.length).toBeGreaterThan(0);
		for (const {token} of issued) {
			expect(printed).not.toContain(token);
		}

		expect(printed).not.toContain(SECRET_DATA);
		await client?.quit();
	});

	it('count: live sessions of this environment (exit 0), as JSON and for people', async () => {
		const json = await msdb('count', '--json');
		expect(json.exitCode, json.stderr).toBe(0);
		expect(json.json).toEqual({env: ENV, sessions: 5});
		const human = await msdb('count');
		expect(human.exitCode).toBe(0);
		expect(human.stdout.trim()).toBe(`5 live sessions (env ${ENV})`);
	});

	it("list <user>: the user's sessions by non-secret id, with times, no tokens and no data", async () => {
		const json = await msdb('list', 'alice', '--json');
		expect(json.exitCode, json.stderr).toBe(0);
		expect(json.json.env).toBe(ENV);
		expect(json.json.user).toBe('alice');
		expect(json.json.sessions.map((row: any) => row.id).sort()).toEqual(alice.map(issued => issued.session.id).sort());
		for (const row of json.json.sessions) {
			expect(Object.keys(row).sort()).toEqual(['createdAt', 'expiresAt', 'id', 'idleExpiresAt']);
			expect(Date.parse(row.expiresAt)).toBeGreaterThan(Date.parse(row.idleExpiresAt) - 1);
		}

		const human = await msdb('list', 'alice');
		expect(human.exitCode).toBe(0);
		for (const {session} of alice) {
			expect(human.stdout).toContain(session.id);
		}

		expect(human.stdout).toContain('3 live sessions for alice');
		const nobody = await msdb('list', 'nobody', '--json');
		expect(nobody.exitCode).toBe(0);
		expect(nobody.json.sessions).toEqual([]);
	});

	it('revoke <user> --session <id> ends that one session only; an unknown id is refused (exit 2)', async () => {
		const [first, second, third] = alice as [IssuedSession, IssuedSession, IssuedSession];
		const run = await msdb('revoke', 'alice', '--session', first.session.id, '--json');
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.json).toEqual({env: ENV, user: 'alice', revoked: [first.session.id]});
		expect(await store.get(first.token)).toBeUndefined();
		for (const {token} of [second, third, ...bob]) {
			expect(await store.get(token)).toBeDefined();
		}

		const again = await msdb('revoke', 'alice', '--session', first.session.id, '--json');
		expect(again.exitCode).toBe(2);
		expect(again.json.error.code).toBe('E_SESSION_NOT_FOUND');
		expect(again.json.error.nextStep).toContain('msdb sessions list alice');
		// bob's session id, named under alice, is not alice's to revoke.
		const foreign = await msdb('revoke', 'alice', '--session', bob[0]!.session.id);
		expect(foreign.exitCode).toBe(2);
		expect(await store.get(bob[0]!.token)).toBeDefined();
	});

	it("revoke <user> ends every session of that user and nobody else's", async () => {
		const run = await msdb('revoke', 'alice', '--json');
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.json.revoked.sort()).toEqual(alice.map(issued => issued.session.id).sort());
		for (const {token} of alice) {
			expect(await store.get(token)).toBeUndefined();
		}

		for (const {token} of bob) {
			expect(await store.get(token)).toBeDefined();
		}

		expect((await msdb('count', '--json')).json.sessions).toBe(2);
		const human = await msdb('revoke', 'alice');
		expect(human.exitCode).toBe(0);
		expect(human.stdout.trim()).toBe(`alice had no live sessions (env ${ENV}).`);
		const bobs = await msdb('revoke', 'bob');
		expect(bobs.stdout).toContain('Revoked 2 sessions of bob');
	});

	it('refuses bad arguments with exit 2 and names the problem', async () => {
		for (const [args, message] of [
			[['list'], '<user> is required'],
			[['revoke'], '<user> is required'],
			[['revoke', 'alice', '--session', 'abc'], '--session must be a session id'],
			// A token pasted by mistake is refused without being echoed (afterAll checks every output).
			// `=`: a base64url token may start with '-', which would otherwise read as another option.
			[['revoke', 'alice', `--session=${alice[0]!.token}`], 'looks like a session token'],
			[['list', 'alice', 'bob'], 'Too many arguments'],
			[['fly'], 'Unknown command `msdb sessions fly`'],
		] as const) {
			const run = await msdb(...args, '--json');
			expect(run.exitCode, args.join(' ')).toBe(2);
			expect(run.stderr).toContain(message);
			expect(run.json.error.code).toMatch(/^E_(BAD_ARGUMENT|UNKNOWN_COMMAND)$/);
		}

		// Nothing was revoked by any of them.
		expect(await store.count()).toBe(5);
	});

	it('--redis-url picks the server when REDIS_URL is not set', async () => {
		const run = await runMsdb(['sessions', 'count', '--json', '--redis-url', target().url], {cwd: tmpdir(), env: {MSDB_ENV: ENV}});
		outputs.push(run.stdout, run.stderr);
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.json.sessions).toBe(5);
	});

	it('fails with exit 1 and a next step when Redis does not answer', async () => {
		const run = await runMsdb(['sessions', 'list', 'alice', '--json'], {cwd: tmpdir(), env: {REDIS_URL: 'redis://127.0.0.1:1', MSDB_ENV: ENV}});
		outputs.push(run.stdout, run.stderr);
		expect(run.exitCode).toBe(1);
		expect(run.json.error.code).toBe('E_REDIS_UNAVAILABLE');
		expect(run.json.error.message).toContain('redis://127.0.0.1:1');
		expect(run.json.error.nextStep).toContain('REDIS_URL');
	});
});
