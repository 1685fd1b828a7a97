import {describe, expect, it} from 'vitest';
import {redact} from '../source/core/redact.js';
import {parseRedisUrl, resolveRedisConfig, type RedisEndpoint} from '../source/core/redis/redis-config.js';
import {thrownActionableError} from './support/thrown-error.js';

function parse(url: string): RedisEndpoint {
	return parseRedisUrl(url, 'REDIS_URL');
}

describe('Redis URL forms', () => {
	it('standalone: host, port, database, ACL user, percent-encoded password', () => {
		expect(parse('redis://127.0.0.1:6379')).toEqual({
			kind: 'standalone',
			host: '127.0.0.1',
			port: 6379,
			db: 0,
			tls: false,
			source: 'REDIS_URL',
			display: 'redis://127.0.0.1:6379',
		});
		expect(parse('redis://app:p%40ss%2Fw0rd@cache.internal:6380/2')).toMatchObject({
			kind: 'standalone',
			host: 'cache.internal',
			port: 6380,
			db: 2,
			username: 'app',
			password: 'p@ss/w0rd',
			display: 'redis://app:***@cache.internal:6380/2',
		});
		expect(parse('redis://cache.internal')).toMatchObject({host: 'cache.internal', port: 6379, db: 0});
		expect(parse('redis://[::1]:6390/')).toMatchObject({host: '::1', port: 6390, db: 0});
		const passwordOnly = parse('redis://:s3cret-pass@10.0.0.5');
		expect(passwordOnly).toMatchObject({password: 's3cret-pass', display: 'redis://:***@10.0.0.5'});
		expect(passwordOnly).not.toHaveProperty('username');
	});

	it('rediss:// turns TLS on', () => {
		expect(parse('rediss://:tls-secret@redis.example.com:6380')).toMatchObject({
			kind: 'standalone',
			tls: true,
			host: 'redis.example.com',
			port: 6380,
			display: 'rediss://:***@redis.example.com:6380',
		});
	});

	it('redis+cluster:// lists seed nodes (default port 6379), rediss+cluster:// with TLS', () => {
		expect(parse('redis+cluster://ops:cl-secret@10.0.0.1:7000,10.0.0.2:7001,node-3')).toMatchObject({
			kind: 'cluster',
			tls: false,
			username: 'ops',
			password: 'cl-secret',
			seeds: [
				{host: '10.0.0.1', port: 7000},
				{host: '10.0.0.2', port: 7001},
				{host: 'node-3', port: 6379},
			],
			display: 'redis+cluster://ops:***@10.0.0.1:7000,10.0.0.2:7001,node-3',
		});
		expect(parse('rediss+cluster://c1.example.com:6379/0')).toMatchObject({kind: 'cluster', tls: true, seeds: [{host: 'c1.example.com', port: 6379}]});
	});

	it('redis+sentinel:// lists sentinels (default port 26379), then the master name and database', () => {
		expect(parse('redis+sentinel://:sn-secret@s1:26380,s2/mymaster/3')).toMatchObject({
			kind: 'sentinel',
			sentinels: [
				{host: 's1', port: 26_380},
				{host: 's2', port: 26_379},
			],
			masterName: 'mymaster',
			db: 3,
			password: 'sn-secret',
			display: 'redis+sentinel://:***@s1:26380,s2/mymaster/3',
		});
		expect(parse('redis+sentinel://127.0.0.1:26379/msdb-primary')).toMatchObject({masterName: 'msdb-primary', db: 0});
	});

	it('registers every password with the redactor, even one with unencoded @ and /', () => {
		parse('redis://app:Unencoded/Pa@ss@cache.internal:6379');
		expect(redact('server said: WRONGPASS for Unencoded/Pa@ss')).toBe('server said: WRONGPASS for ***');
		parse('redis+cluster://:cluster-pw-123@h1:7000,h2:7001');
		expect(redact('echo cluster-pw-123')).toBe('echo ***');
	});
});

describe('which URL each role uses', () => {
	it('REDIS_<ROLE>_URL, else --redis-url, else REDIS_URL, else redis://127.0.0.1:6379', () => {
		const env = {REDIS_CACHE_URL: 'redis+cluster://c1:7000,c2:7000', REDIS_URL: 'redis://shared:6379'};
		const withOption = resolveRedisConfig({redisUrl: 'redis://option-host:6379/1'}, env);
		expect(withOption.endpoints.cache).toMatchObject({kind: 'cluster', source: 'REDIS_CACHE_URL'});
		expect(withOption.endpoints.sessions).toMatchObject({kind: 'standalone', host: 'option-host', db: 1, source: '--redis-url'});
		expect(withOption.endpoints.queues.source).toBe('--redis-url');
		expect(withOption.endpoints.pubsub.source).toBe('--redis-url');
		expect(withOption.display).toBe(
			'cache=redis+cluster://c1:7000,c2:7000 (REDIS_CACHE_URL), sessions=redis://option-host:6379/1 (--redis-url), ' +
				'queues=redis://option-host:6379/1 (--redis-url), pubsub=redis://option-host:6379/1 (--redis-url)',
		);

		const withoutOption = resolveRedisConfig({}, env);
		expect(withoutOption.endpoints.sessions).toMatchObject({host: 'shared', source: 'REDIS_URL'});

		const sessionsApart = resolveRedisConfig({}, {REDIS_SESSIONS_URL: 'redis+sentinel://s1/main', REDIS_PUBSUB_URL: '  '});
		expect(sessionsApart.endpoints.sessions).toMatchObject({kind: 'sentinel', masterName: 'main', source: 'REDIS_SESSIONS_URL'});
		// Blank variables count as unset.
		expect(sessionsApart.endpoints.pubsub).toMatchObject({host: '127.0.0.1', port: 6379, source: 'default'});

		const defaults = resolveRedisConfig({}, {});
		expect(defaults.display).toBe('redis://127.0.0.1:6379 (default)');
		for (const endpoint of Object.values(defaults.endpoints)) {
			expect(endpoint).toMatchObject({kind: 'standalone', host: '127.0.0.1', port: 6379, db: 0});
		}

		const shared = resolveRedisConfig({}, {REDIS_URL: 'redis://:shared-secret@cache:6379'});
		expect(shared.display).toBe('redis://:***@cache:6379 (REDIS_URL)');
	});
});

describe('bad Redis URLs', () => {
	const secret = 'Tr0ub4dor-and-3';
	const cases: Array<{name: string; env: Record<string, string>; option?: string; source: string; problem: RegExp}> = [
		{name: 'unknown scheme', env: {REDIS_URL: `http://:${secret}@cache:6379`}, source: 'The environment variable REDIS_URL', problem: /scheme http:\/\//},
		{name: 'no scheme', env: {}, option: `${secret}@cache:6379`, source: 'The --redis-url option', problem: /does not start with a scheme/},
		{name: 'empty option', env: {}, option: '', source: 'The --redis-url option', problem: /it is empty/},
		{name: 'two hosts on redis://', env: {REDIS_CACHE_URL: `redis://:${secret}@h1:6379,h2:6379`}, source: 'REDIS_CACHE_URL', problem: /exactly one host.*redis\+cluster/},
		{name: 'port out of range', env: {REDIS_SESSIONS_URL: `redis://u:${secret}@cache:99999`}, source: 'REDIS_SESSIONS_URL', problem: /port .* between 1 and 65535/},
		{name: 'port not a number', env: {REDIS_QUEUES_URL: `redis://:${secret}@cache:http`}, source: 'REDIS_QUEUES_URL', problem: /not a port number/},
		{name: 'bad database', env: {REDIS_URL: `redis://:${secret}@cache:6379/zero`}, source: 'REDIS_URL', problem: /database "zero" is not a database number/},
		{name: 'cluster with a database', env: {REDIS_PUBSUB_URL: `redis+cluster://:${secret}@h1:7000/2`}, source: 'REDIS_PUBSUB_URL', problem: /only database 0/},
		{name: 'sentinel without master name', env: {REDIS_URL: `redis+sentinel://:${secret}@s1:26379`}, source: 'REDIS_URL', problem: /master name/},
		{name: 'query string', env: {REDIS_URL: `redis://cache:6379/0?password=${secret}`}, source: 'REDIS_URL', problem: /query parameters/},
		{name: 'malformed escape in the password', env: {REDIS_URL: `redis://:${secret}%zz@cache:6379`}, source: 'REDIS_URL', problem: /password has a malformed %-escape/},
		{name: 'unencoded @ and / in the password, bad port', env: {REDIS_URL: `redis://admin:${secret}/x@y@cache:port`}, source: 'REDIS_URL', problem: /not a port number/},
		{name: 'space in a host', env: {REDIS_URL: `redis+cluster://:${secret}@h 1:7000`}, source: 'REDIS_URL', problem: /not a valid host name/},
	];

	for (const testCase of cases) {
		it(`${testCase.name}: names the source, masks the password, lists the accepted forms`, () => {
			const error = thrownActionableError(() => resolveRedisConfig(testCase.option === undefined ? {} : {redisUrl: testCase.option}, testCase.env));
			expect(error.code).toBe('E_REDIS_CONFIG_INVALID');
			expect(error.exitCode).toBe(2);
			expect(error.message).toContain(testCase.source);
			expect(error.message).toMatch(testCase.problem);
			expect(error.nextStep).toContain('redis+cluster://');
			expect(error.nextStep).toContain('redis+sentinel://');
			const everything = JSON.stringify(error.toJSON());
			expect(everything).not.toContain(secret);
			if (testCase.name !== 'empty option' && testCase.name !== 'query string') {
				expect(error.message).toContain('***');
			}
		});
	}
});
