import type {ProgressEvent} from './command-definition.js';

/**
 * One line of progress per event, for stderr in scripts and the log in the console. Undefined
 * for events not worth a line.
 */
export function describeProgress(event: ProgressEvent): string | undefined {
	switch (event.type) {
		case 'status': {
			return event.message;
		}

		case 'lock:waiting': {
			return `waiting for the migration lock${event.holder ? ` (held by ${event.holder})` : ''}…`;
		}

		case 'lock:acquired': {
			return `got the migration lock after ${formatMs(event.waitedMs)}`;
		}

		case 'ledger:created': {
			return 'created the ledger (public.__ms_migrations) and took the baseline catalog snapshot';
		}

		case 'plan': {
			const verb = event.direction === 'up' ? 'apply' : 'roll back';
			if (event.migrations.length === 0) {
				return `nothing to ${verb}`;
			}

			const names = event.migrations.map(migration => `${migration.version}_${migration.name}`);
			// A first deploy can have hundreds: name the ends, not every one.
			const list = names.length > 8 ? `${names.slice(0, 3).join(', ')} … ${names.slice(-3).join(', ')}` : names.join(', ');
			return `${event.dryRun ? 'would ' : ''}${verb} ${event.migrations.length} migration${event.migrations.length === 1 ? '' : 's'}: ${list}`;
		}

		case 'migration:start': {
			const verb = event.direction === 'up' ? 'applying' : 'rolling back';
			return `[${event.index + 1}/${event.count}] ${verb} ${event.version}_${event.name}${event.noTransaction ? ' (no transaction)' : ''}…`;
		}

		case 'statement:start': {
			return `  statement ${event.statement}/${event.statements} (line ${event.line})`;
		}

		case 'migration:retry': {
			return `  ${event.version}_${event.name} hit lock_timeout (${event.reason}); retry ${event.attempt} in ${formatMs(event.delayMs)}`;
		}

		case 'migration:done': {
			return `${event.direction === 'up' ? 'applied' : 'rolled back'} ${event.version}_${event.name} in ${formatMs(event.executionTimeMs)}`;
		}

		case 'migration:failed': {
			return `  ${event.version}_${event.name} failed`;
		}

		case 'cleanup': {
			return `  ${event.message}`;
		}

		case 'snapshot:stored': {
			return `stored the catalog snapshot (${event.objects} objects) for drift checks`;
		}

		case 'backup:step': {
			return event.message;
		}

		case 'artifact:start': {
			return `${event.operation} ${event.key}${event.totalBytes === null ? '' : ` (${formatBytes(event.totalBytes)})`}…`;
		}

		case 'artifact:progress': {
			const total = event.totalBytes === null ? '' : ` of ${formatBytes(event.totalBytes)}`;
			const eta = event.etaSeconds === null ? '' : `, ${formatSeconds(event.etaSeconds)} left`;
			return `  ${event.key}: ${formatBytes(event.bytes)}${total} at ${formatBytes(event.bytesPerSecond)}/s${eta}`;
		}

		case 'artifact:done': {
			return `  ${event.key}: ${formatBytes(event.bytes)} in ${formatMs(event.elapsedMs)}${event.sha256 ? ` (sha256 ${event.sha256.slice(0, 12)}…)` : ''}`;
		}

		case 'restore:keys': {
			return `  ${event.restored}${event.total === null ? '' : ` of ${event.total}`} keys restored`;
		}
	}
}

/** 1536 → "1.5 KiB" */
export function formatBytes(bytes: number): string {
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let value = bytes;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}

	return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

function formatSeconds(seconds: number): string {
	if (seconds < 60) {
		return `${Math.ceil(seconds)} s`;
	}

	const minutes = Math.floor(seconds / 60);
	return minutes < 60 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatMs(ms: number): string {
	if (ms < 1000) {
		return `${Math.round(ms)} ms`;
	}

	return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
