import type {CommandDefinition} from './command-definition.js';

/**
 * Every subcommand, loaded on demand: a script calling `msdb migrate status --json` imports only
 * that definition (and, inside its run, only the core it needs).
 */
export const commandRegistry: Record<string, () => Promise<CommandDefinition>> = {
	'migrate status': async () => (await import('./definitions/migrate-status.js')).migrateStatus as CommandDefinition,
	'migrate create': async () => (await import('./definitions/migrate-create.js')).migrateCreate as unknown as CommandDefinition,
	'migrate apply': async () => (await import('./definitions/migrate-apply.js')).migrateApply as CommandDefinition,
	'migrate rollback': async () => (await import('./definitions/migrate-rollback.js')).migrateRollback as CommandDefinition,
	'migrate validate': async () => (await import('./definitions/migrate-validate.js')).migrateValidate as CommandDefinition,
	'migrate drift': async () => (await import('./definitions/migrate-drift.js')).migrateDrift as CommandDefinition,
	'migrate reset': async () => (await import('./definitions/migrate-reset.js')).migrateReset as CommandDefinition,
	'migrate accept': async () => (await import('./definitions/migrate-accept.js')).migrateAccept as unknown as CommandDefinition,
	'migrate baseline': async () => (await import('./definitions/migrate-baseline.js')).migrateBaseline as unknown as CommandDefinition,
	'sessions count': async () => (await import('./definitions/sessions-count.js')).sessionsCount as CommandDefinition,
	'sessions list': async () => (await import('./definitions/sessions-list.js')).sessionsList as unknown as CommandDefinition,
	'sessions revoke': async () => (await import('./definitions/sessions-revoke.js')).sessionsRevoke as unknown as CommandDefinition,
	'cache stats': async () => (await import('./definitions/cache-stats.js')).cacheStats as unknown as CommandDefinition,
	'reconcile agent-state': async () => (await import('./definitions/reconcile-agent-state.js')).reconcileAgentState as unknown as CommandDefinition,
	'backup create': async () => (await import('./definitions/backup-create.js')).backupCreate as unknown as CommandDefinition,
	'backup list': async () => (await import('./definitions/backup-list.js')).backupList as unknown as CommandDefinition,
	'backup verify': async () => (await import('./definitions/backup-verify.js')).backupVerify as unknown as CommandDefinition,
	'backup prune': async () => (await import('./definitions/backup-prune.js')).backupPrune as unknown as CommandDefinition,
	restore: async () => (await import('./definitions/restore.js')).restore as unknown as CommandDefinition,
	'sandbox up': async () => (await import('./definitions/sandbox-up.js')).sandboxUp as unknown as CommandDefinition,
	'sandbox down': async () => (await import('./definitions/sandbox-down.js')).sandboxDown as unknown as CommandDefinition,
	'sandbox status': async () => (await import('./definitions/sandbox-status.js')).sandboxStatus as unknown as CommandDefinition,
	load: async () => (await import('./definitions/load.js')).load as unknown as CommandDefinition,
	health: async () => (await import('./definitions/health.js')).health as unknown as CommandDefinition,
	metrics: async () => (await import('./definitions/metrics.js')).metrics as unknown as CommandDefinition,
	worker: async () => (await import('./definitions/worker.js')).worker as unknown as CommandDefinition,
};

/** Command groups and what they are for, for "unknown command" messages. */
export const commandGroups: Record<string, string> = {
	migrate: 'schema migrations: status, create, apply, rollback, validate, drift, reset, accept, baseline',
	sessions: 'user sessions in Redis: count, list <user>, revoke <user> [--session <id>]',
	cache: 'the multi-level cache as Redis sees it: stats',
	reconcile: 'PostgreSQL vs Redis copies: agent-state [--repair] (exit 3 when differences remain)',
	backup: 'backups of PostgreSQL and Redis: create, list, verify <id> [--drill], prune',
	restore: 'restore <id|manifest-url> [--into new|replace] [--confirm <name>]',
	sandbox: 'a local PostgreSQL, Redis and S3 in ./.msdb/sandbox: up, down [--purge], status',
	load: 'load [--rate N] [--duration D] [--agents N]: a paced workload through the core library with a live throughput line, for demos and benchmarks',
	metrics: 'metrics [--port 9464]: Prometheus exporter (/metrics, /healthz) for the fleet, migrations and backups',
	health: 'health: PostgreSQL and Redis roles, migrations, drift, backup and restore-drill age (exit 3 when a check fails)',
	worker: 'worker [--once]: partition upkeep and expired-session cleanup with a heartbeat, until SIGTERM',
};

/** Finds the longest registered command at the start of argv. */
export function matchCommand(argv: string[]): {key: string; rest: string[]} | undefined {
	const words: string[] = [];
	for (const arg of argv) {
		if (arg.startsWith('-') || words.length === 3) {
			break;
		}

		words.push(arg);
	}

	for (let length = words.length; length > 0; length--) {
		const key = words.slice(0, length).join(' ');
		if (key in commandRegistry) {
			return {key, rest: argv.slice(length)};
		}
	}

	return undefined;
}
