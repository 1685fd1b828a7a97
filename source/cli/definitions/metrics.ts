import {FLEET_REDIS_ROLE} from '../../core/fleet/fleet-redis-role.js';
import {z} from 'zod';
import type {SourceReading} from '../../core/metrics/scrape-source.js';
import {defineCommand} from '../command-definition.js';
import {durationOption, globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text, type OutputBlock} from '../output-blocks.js';
import {targetOption} from './backup-shared.js';

/** The default migrations folder: a missing default folder means "no pending count", a missing named one is an error. */
const DEFAULT_MIGRATIONS_DIR = './migrations';

/** What the command reports when it stops. */
type MetricsSummary = {
	url: string;
	port: number;
	env: string;
	scrapes: number;
	healthChecks: number;
	sources: Array<{source: string; up: boolean; error?: string}>;
};

/**
 * `msdb metrics`: a Prometheus exporter for the framework as a whole. Serves `/metrics` (the
 * fleet's heartbeats per process, the migration ledger, the backup target, and its own process
 * metrics) and `/healthz` until SIGTERM or Ctrl-C (exit 0). One stderr line when it listens and
 * one whenever a source goes down or comes back.
 */
export const metrics = defineCommand({
	path: ['metrics'],
	description: 'Serve Prometheus metrics (/metrics, /healthz): per-process pools, caches and Redis commands from heartbeats, pending migrations, backup and restore-drill age',
	options: z.object({
		...globalOptions,
		// No default (as for health): a missing default folder skips the pending count, a missing named one is an error.
		migrationsDir: z
			.string()
			.optional()
			.describe(optionMeta({description: 'Folder of migration files to count pending ones (skipped when the default ./migrations does not exist)', valueDescription: 'dir', defaultValueDescription: DEFAULT_MIGRATIONS_DIR})),
		port: z
			.number()
			.int()
			.min(0)
			.max(65_535)
			.default(9464)
			.describe(optionMeta({description: 'TCP port to serve on (0: any free port)', valueDescription: 'port', defaultValueDescription: '9464'})),
		host: z
			.string()
			.optional()
			.describe(optionMeta({description: 'Interface to listen on, e.g. 127.0.0.1 (default: every interface, so Prometheus can scrape from elsewhere)', valueDescription: 'address'})),
		target: targetOption,
		migrationsRefresh: durationOption('How long a reading of the migration ledger is reused between scrapes', '30s'),
		backupsRefresh: durationOption('How long a listing of the backup target is reused (ages stay exact in between)', '5min'),
		sourceTimeout: durationOption('A source (database, backup target, Redis) that has not answered within this counts as down for the scrape', '5s'),
	}),
	async run({options}, context) {
		const [{createMetricsRegistry}, {serveMetrics}, {resolvePoolsConfig}, {resolveRedisConfig}, {RedisConnections}, {keyEnvironment}, {openBackupTarget}, {parseDuration}, {ActionableError}, {stat}] =
			await Promise.all([
				import('../../core/metrics/metrics-registry.js'),
				import('../../core/metrics/metrics-server.js'),
				import('../../core/pools/pool-config.js'),
				import('../../core/redis/redis-config.js'),
				import('../../core/redis/redis-connections.js'),
				import('../../core/redis/key-names.js'),
				import('../../core/backup/targets/open-backup-target.js'),
				import('../../core/duration.js'),
				import('../../core/errors.js'),
				import('node:fs/promises'),
			]);
		const positive = (flag: string, value: string) => {
			const ms = parseDuration(value) ?? 0;
			if (ms === 0) {
				throw new ActionableError('E_BAD_ARGUMENT', `--${flag} must be longer than 0.`, {nextStep: `Pass a duration such as 5s or 1min to --${flag}.`});
			}

			return ms;
		};

		const timeoutMs = positive('source-timeout', options.sourceTimeout);
		const migrationsMaxAgeMs = positive('migrations-refresh', options.migrationsRefresh);
		const backupsMaxAgeMs = positive('backups-refresh', options.backupsRefresh);
		// Configuration first: a malformed URL is refused (exit 2) before anything listens.
		const env = keyEnvironment(context.env);
		const database = resolvePoolsConfig({databaseUrl: options.databaseUrl}, context.env).roles.primary.database;
		const redisConfig = resolveRedisConfig({redisUrl: options.redisUrl}, context.env);
		const targetUrl = options.target ?? (context.env.MSDB_BACKUP_TARGET?.trim() ? context.env.MSDB_BACKUP_TARGET : undefined);
		const target = targetUrl === undefined ? undefined : openBackupTarget(targetUrl, context.env);
		const migrationsDir = options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
		const countPending = options.migrationsDir !== undefined || (await stat(migrationsDir).then(() => true, () => false));

		const say = (message: string) => context.onEvent({type: 'status', message});
		const onChange = (reading: SourceReading<unknown>, name: string) => {
			say(reading.up ? `${name}: answering` : `${name}: down (${reading.error ?? 'no answer'}); /metrics keeps its last good values, /healthz answers 503`);
		};

		const connections = new RedisConnections(redisConfig, {connectionName: 'msdb:metrics'});
		// The dual store's relay backlog, only where its outbox exists (migration 0012): an older
		// schema is not a failing source.
		const [{default: pg}, {AGENT_STATE_REDIS_ROLE}] = await Promise.all([import('pg'), import('../../core/dual-store/agent-state-layout.js')]);
		const agentStatePool = new pg.Pool({
			...(database.connectionString ? {connectionString: database.connectionString} : {}),
			max: 1,
			application_name: 'msdb:metrics',
		});
		agentStatePool.on('error', () => {});
		const hasOutbox = await agentStatePool
			.query<{present: boolean}>("SELECT to_regclass('agents.state_outbox') IS NOT NULL AS present")
			.then(result => result.rows[0]?.present === true, () => false);
		const exporter = createMetricsRegistry({
			processMetrics: true,
			fleet: {client: connections.client(FLEET_REDIS_ROLE), env, server: redisConfig.endpoints[FLEET_REDIS_ROLE].display, timeoutMs, onChange},
			migrations: {
				settings: {database, migrationsDir, rollbacksDir: options.rollbacksDir},
				countPending,
				maxAgeMs: migrationsMaxAgeMs,
				timeoutMs,
				onChange,
			},
			...(target ? {backups: {target, maxAgeMs: backupsMaxAgeMs, timeoutMs, onChange}} : {}),
			...(hasOutbox ? {agentState: {database: agentStatePool, redis: connections.client(AGENT_STATE_REDIS_ROLE), env, timeoutMs, onChange}} : {}),
		});
		let server: Awaited<ReturnType<typeof serveMetrics>> | undefined;
		try {
			server = await serveMetrics({registry: exporter.registry, port: options.port, host: options.host, health: exporter.health});
			say(
				`serving ${server.url}/metrics and /healthz · fleet of env ${env} from ${redisConfig.endpoints[FLEET_REDIS_ROLE].display} · ` +
					`migrations of ${database.display}${countPending ? '' : ` (pending not counted: no ${migrationsDir} here)`} · ` +
					`backups ${target ? target.display : 'not exported (no --target or MSDB_BACKUP_TARGET)'} · SIGTERM or Ctrl-C stops`,
			);
			// A first read now, so a source that is down is said at start-up rather than at the first scrape.
			void exporter.health();
			await new Promise<void>(resolve => {
				if (context.signal.aborted) {
					resolve();
				} else {
					context.signal.addEventListener('abort', () => resolve(), {once: true});
				}
			});
		} finally {
			await server?.close();
			await connections.close();
			await agentStatePool.end().catch(() => {});
		}

		const summary: MetricsSummary = {
			url: server.url,
			port: server.port,
			env,
			...server.stats(),
			sources: exporter.sources.map(source => {
				const reading = source.peek();
				return reading.up ? {source: source.name, up: true} : {source: source.name, up: false, error: reading.error ?? 'no answer'};
			}),
		};
		return {exitCode: 0, json: summary, human: describe(summary)};
	},
});

function describe(summary: MetricsSummary): OutputBlock[] {
	return [
		text(`stopped serving ${summary.url}: ${summary.scrapes} scrape(s), ${summary.healthChecks} health check(s)`, 'muted'),
		table(
			['SOURCE', 'STATE', 'LAST ERROR'],
			summary.sources.map(source => [source.source, source.up ? 'up' : 'DOWN', source.error ?? '']),
			summary.sources.map(source => (source.up ? undefined : 'warning')),
		),
	];
}
