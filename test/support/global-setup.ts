/**
 * Vitest global setup: provides one PostgreSQL server, one Redis server and one S3 bucket for
 * the whole run, found in the order DESIGN.md ("Tests") gives:
 *
 * 1. URLs in the environment, used as they are:
 *    MSDB_TEST_DATABASE_URL  a server where the URL's user may CREATE DATABASE (PostgreSQL ≥ 13)
 *    MSDB_TEST_REDIS_URL     a dedicated Redis: test files lease logical databases 1–15 and FLUSHDB them
 *    MSDB_TEST_S3_URL        http://ACCESS:SECRET@host:port/bucket
 * 2. Docker containers (testcontainers) when a Docker engine answers; MSDB_TEST_DOCKER=0 skips this.
 * 3. Local binaries (initdb/postgres, redis-server) on free ports in temp dirs, s3rver in-process.
 *
 * Test files reach them through `inject()`, usually via test-database.ts and test-redis.ts.
 */
import type {TestProject} from 'vitest/node';
import {provisionServices, type ServiceSource} from '../../source/core/provision/index.js';
import {startLocalNats} from '../../source/core/provision/local-nats.js';
import {redact} from '../../source/core/redact.js';

declare module 'vitest' {
	export interface ProvidedContext {
		/** Superuser-ish URL of the maintenance database; test files create their own databases. */
		postgresAdminUrl: string;
		postgresSource: ServiceSource;
		/** The shared Redis. Test files needing isolation use createTestRedis() instead. */
		redisUrl: string;
		redisSource: ServiceSource;
		s3: {
			endpoint: string;
			bucket: string;
			region: string;
			accessKeyId: string;
			secretAccessKey: string;
			/** `http://ACCESS:SECRET@host:port/bucket` */
			url: string;
			source: ServiceSource;
		};
		/** NATS with JetStream: MSDB_TEST_NATS_URL, else a private nats-server started here. */
		natsUrl: string;
	}
}

function fromEnvironment(name: string): string | undefined {
	const value = process.env[name]?.trim();
	return value ? value : undefined;
}

function log(line: string): void {
	process.stderr.write(`[msdb test services] ${redact(line)}\n`);
}

/** Provisions the services, provides their coordinates to test files, returns the teardown. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
	const services = await provisionServices({
		postgres: {url: fromEnvironment('MSDB_TEST_DATABASE_URL')},
		redis: {url: fromEnvironment('MSDB_TEST_REDIS_URL')},
		s3: {url: fromEnvironment('MSDB_TEST_S3_URL')},
		docker: process.env['MSDB_TEST_DOCKER'] !== '0',
		onEvent: event => {
			if (event.type === 'service:fallback') {
				log(`${event.service}: Docker failed, using local binaries instead: ${event.reason}`);
			}
		},
	});
	for (const service of services.services) {
		log(`${service.service} from ${service.source}: ${service.description}`);
	}

	const {postgres, redis, s3} = services;
	project.provide('postgresAdminUrl', postgres.url);
	project.provide('postgresSource', postgres.source);
	project.provide('redisUrl', redis.url);
	project.provide('redisSource', redis.source);
	project.provide('s3', {
		endpoint: s3.endpoint,
		bucket: s3.bucket,
		region: s3.region,
		accessKeyId: s3.accessKeyId,
		secretAccessKey: s3.secretAccessKey,
		url: s3.url,
		source: s3.source,
	});
	const natsFromEnvironment = fromEnvironment('MSDB_TEST_NATS_URL');
	const nats = natsFromEnvironment ? undefined : await startLocalNats();
	const natsUrl = natsFromEnvironment ?? nats?.url ?? '';
	log(`nats from ${natsFromEnvironment ? 'environment' : 'local'}: ${natsUrl}`);
	project.provide('natsUrl', natsUrl);
	return async () => {
		await nats?.stop();
		await services.stopAll();
	};
}
