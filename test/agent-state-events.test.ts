/**
 * AgentStateEventPublisher against real services: a private Redis, and nats-server with
 * JetStream (MSDB_TEST_NATS_URL, else a private one the global setup started). Agent ids are
 * fresh uuids, so runs sharing a server and its stream never read each other's events.
 */
import {randomUUID} from 'node:crypto';
import {jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg} from '@nats-io/jetstream';
import {connect, type NatsConnection} from '@nats-io/transport-node';
import getPort from 'get-port';
import {Redis} from 'ioredis';
import {afterAll, afterEach, beforeAll, describe, expect, inject, it} from 'vitest';
import {AgentStateEventPublisher, natsConnectOptions, type AgentStateChange} from '../source/core/dual-store/agent-state-events.js';
import {agentStateEventsKey, agentStateSubject} from '../source/core/dual-store/agent-state-layout.js';
import {MsdbError} from '../source/core/errors.js';
import {useTestRedis} from './support/test-redis.js';

const NATS_URL = inject('natsUrl');
const ENV = 'eventstest';

const redis = useTestRedis();
let client: Redis;
let nats: NatsConnection;
let manager: JetStreamManager;
let js: JetStreamClient;
const publishers: AgentStateEventPublisher[] = [];

beforeAll(async () => {
	client = new Redis(redis.url);
	try {
		nats = await connect({...natsConnectOptions(NATS_URL), timeout: 5000});
	} catch (error) {
		throw new Error(`These tests need nats-server with JetStream at ${NATS_URL} (MSDB_TEST_NATS_URL; docker compose up -d nats): ${(error as Error).message}`);
	}

	manager = await jetstreamManager(nats);
	js = jetstream(nats);
});
afterEach(async () => {
	await Promise.all(publishers.splice(0).map(async publisher => publisher.close()));
});
afterAll(async () => {
	await nats?.close();
	client?.disconnect();
});

function publisherWith(options: Partial<ConstructorParameters<typeof AgentStateEventPublisher>[0]> = {}): {publisher: AgentStateEventPublisher; errors: Error[]} {
	const errors: Error[] = [];
	const publisher = new AgentStateEventPublisher({redis: client, env: ENV, natsUrl: NATS_URL, onError: error => errors.push(error), ...options});
	publishers.push(publisher);
	return {publisher, errors};
}

const change = (agentId: string, version: number): AgentStateChange => ({
	agentId,
	version,
	state: {step: version, plan: ['a', {b: version}]},
	level: version % 2 === 0 ? 'strong' : 'postgres-first',
	changedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, version)).toISOString(),
});

/** Everything the Redis events stream holds for these agents, in stream order. */
async function redisEvents(agentIds: readonly string[]): Promise<Array<Record<string, string>>> {
	const entries = await client.xrange(agentStateEventsKey(ENV), '-', '+');
	return entries
		.map(([, fields]) => Object.fromEntries(Array.from({length: fields.length / 2}, (_, index) => [fields[2 * index], fields[2 * index + 1]])) as Record<string, string>)
		.filter(fields => agentIds.includes(fields.agentId ?? ''));
}

/** A JetStream consumer of one agent's subject, collecting `count` messages. */
async function collect(agentId: string, count: number): Promise<JsMsg[]> {
	const subject = agentStateSubject(agentId);
	const stream = await manager.streams.find(subject);
	const consumer = await js.consumers.get(stream, {filter_subjects: subject});
	const received: JsMsg[] = [];
	const messages = await consumer.consume();
	for await (const message of messages) {
		received.push(message);
		if (received.length === count) {
			break;
		}
	}

	return received;
}

describe('AgentStateEventPublisher with NATS JetStream', () => {
	it('delivers every change to a JetStream subscriber in version order per agent, and to the Redis stream', async () => {
		const {publisher, errors} = publisherWith();
		const agents = Array.from({length: 4}, () => randomUUID());
		const versions = 12;
		// The first publish creates the stream when the server has none covering agent.*.state.changed yet.
		await publisher.publish(change(agents[0] ?? '', 1));
		const collected = Promise.all(agents.map(async agentId => collect(agentId, versions)));
		// Agents concurrently, each agent's versions one after the other (the caller's duty).
		await Promise.all(
			agents.map(async agentId => {
				for (let version = agentId === agents[0] ? 2 : 1; version <= versions; version++) {
					await publisher.publish(change(agentId, version));
				}
			}),
		);

		const received = await collected;
		for (const [index, agentId] of agents.entries()) {
			const messages = received[index] ?? [];
			expect(messages.map(message => message.json<AgentStateChange>().version)).toEqual(Array.from({length: versions}, (_, i) => i + 1));
			expect(messages.every(message => message.subject === `agent.${agentId}.state.changed`)).toBe(true);
			expect(messages[2]?.json()).toEqual(change(agentId, 3));
			expect(messages[2]?.headers?.get('Nats-Msg-Id')).toBe(`${agentId}:3`);
		}

		const events = await redisEvents(agents);
		expect(events).toHaveLength(agents.length * versions);
		for (const agentId of agents) {
			expect(events.filter(fields => fields.agentId === agentId).map(fields => Number(fields.version))).toEqual(Array.from({length: versions}, (_, i) => i + 1));
		}

		const sample = change(agents[1] ?? '', 5);
		expect(events.find(fields => fields.agentId === sample.agentId && fields.version === '5')).toEqual({
			agentId: sample.agentId,
			version: '5',
			level: sample.level,
			changedAt: sample.changedAt,
			state: JSON.stringify(sample.state),
		});
		expect(errors).toEqual([]);
		expect(publisher.stats).toEqual({
			redis: {published: agents.length * versions},
			nats: {enabled: true, published: agents.length * versions, duplicates: 0, failed: 0, skipped: 0},
		});
	});

	it('a retried publish of the same agentId:version reaches subscribers once (JetStream drops the duplicate)', async () => {
		const {publisher, errors} = publisherWith();
		const agentId = randomUUID();
		await publisher.publish(change(agentId, 1));
		await publisher.publish(change(agentId, 1));
		await publisher.publish(change(agentId, 2));
		const messages = await collect(agentId, 2);
		expect(messages.map(message => message.json<AgentStateChange>().version)).toEqual([1, 2]);
		expect(publisher.stats.nats).toMatchObject({published: 2, duplicates: 1});
		// The Redis stream has no such check: its followers deduplicate by agentId + version.
		expect((await redisEvents([agentId])).map(fields => fields.version)).toEqual(['1', '1', '2']);
		expect(errors).toEqual([]);
	});
});

describe('AgentStateEventPublisher without NATS', () => {
	it('without NATS_URL the events go to the Redis stream only', async () => {
		const {publisher, errors} = publisherWith({natsUrl: undefined});
		const agentId = randomUUID();
		await publisher.publish(change(agentId, 1));
		await publisher.publish(change(agentId, 2));
		expect((await redisEvents([agentId])).map(fields => fields.version)).toEqual(['1', '2']);
		expect(publisher.stats).toEqual({redis: {published: 2}, nats: {enabled: false, published: 0, duplicates: 0, failed: 0, skipped: 0}});
		expect(errors).toEqual([]);
	});

	it('NATS down: publish still resolves, onError gets one actionable error without the password, and NATS is paused', async () => {
		const port = await getPort();
		const {publisher, errors} = publisherWith({natsUrl: `nats://msdb:hunter22secret@127.0.0.1:${port}`, natsTimeoutMs: 1000, natsRetryAfterMs: 60_000});
		const agentId = randomUUID();
		for (let version = 1; version <= 3; version++) {
			await publisher.publish(change(agentId, version));
		}

		expect((await redisEvents([agentId])).map(fields => fields.version)).toEqual(['1', '2', '3']);
		expect(errors).toHaveLength(1);
		const [error] = errors;
		expect(error).toBeInstanceOf(MsdbError);
		expect((error as MsdbError).code).toBe('E_SERVICE_UNAVAILABLE');
		expect(error?.message).toContain(`agent ${agentId} version 1`);
		expect(error?.message).toContain(`127.0.0.1:${port}`);
		expect(error?.message).not.toContain('hunter22secret');
		expect(publisher.stats.nats).toEqual({enabled: true, published: 0, duplicates: 0, failed: 1, skipped: 2});

		// A token (nats://<token>@host) is no user:password pattern redact() would know by itself.
		const withToken = publisherWith({natsUrl: `nats://tok3n-do-not-print@127.0.0.1:${port}`, natsTimeoutMs: 1000});
		await withToken.publisher.publish(change(agentId, 4));
		expect(withToken.errors).toHaveLength(1);
		expect(withToken.errors[0]?.message).toContain(`nats://127.0.0.1:${port}`);
		expect(withToken.errors[0]?.message).not.toContain('tok3n-do-not-print');
	});

	it('Redis failing rejects publish, so the caller retries; after close, publish is a bug', async () => {
		const broken = new Redis(redis.url, {lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0});
		const {publisher} = publisherWith({redis: broken, natsUrl: undefined});
		await expect(publisher.publish(change(randomUUID(), 1))).rejects.toThrow();
		broken.disconnect();
		await publisher.close();
		await expect(publisher.publish(change(randomUUID(), 1))).rejects.toMatchObject({code: 'E_BUG'});
	});

	it('takes credentials out of NATS URLs (nats.js wants them as options)', () => {
		expect(natsConnectOptions('nats://user:p%40ss@host-a:4222, host-b:4223')).toEqual({servers: ['nats://host-a:4222', 'nats://host-b:4223'], user: 'user', pass: 'p@ss'});
		expect(natsConnectOptions('tls://s3cr3t-token@nats.example:4222')).toEqual({servers: ['tls://nats.example:4222'], token: 's3cr3t-token'});
		expect(() => natsConnectOptions(' , ')).toThrow(/names no server/);
		expect(() => natsConnectOptions('nats://[oops')).toThrow(/server 1 is not a URL/);
	});
});
