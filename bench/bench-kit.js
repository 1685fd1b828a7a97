// Helpers every bench/*.bench.js shares. (bench/run.js only runs *.bench.js files, so this one
// is imported, never run.)

/** The median of a list of numbers. */
export const median = values => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Milliseconds `work` took. */
export async function timed(work) {
	const started = performance.now();
	await work();
	return performance.now() - started;
}

/**
 * Applies the repository's migrations (the agent framework's schema) to `databaseUrl` through
 * the built core, as `msdb migrate apply` does: what the benches that drive the framework's
 * tables start from.
 */
export async function applyFrameworkSchema(databaseUrl) {
	const [{applyMigrations}, {DEFAULT_LIMITS}, {resolveDatabaseConfig}] = await Promise.all([
		import('../build/core/migrations/apply.js'),
		import('../build/core/migrations/migration-settings.js'),
		import('../build/core/config/database-config.js'),
	]);
	const root = new URL('..', import.meta.url).pathname;
	await applyMigrations({
		database: resolveDatabaseConfig(databaseUrl, {}),
		migrationsDir: `${root}migrations`,
		rollbacksDir: `${root}rollbacks`,
		lockTimeoutMs: 60_000,
		limits: DEFAULT_LIMITS,
		lockRetries: 3,
		actor: 'bench',
	});
}
