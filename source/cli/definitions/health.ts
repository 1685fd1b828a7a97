import {z} from 'zod';
import type {HealthReport} from '../../core/health/health-check-types.js';
import {defineCommand} from '../command-definition.js';
import {durationOption, globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text, type OutputBlock, type Tone} from '../output-blocks.js';
import {targetOption} from './backup-shared.js';

/** The default migrations folder: health tells it apart from one named on purpose. */
const DEFAULT_MIGRATIONS_DIR = './migrations';
/** setTimeout's largest delay: what "0 = no limit" means for the per-check deadline. */
const NO_LIMIT_MS = 2_147_483_647;

/**
 * `msdb health`: is everything the framework needs there and fresh? Every check is listed with
 * its status and, when it fails, a next step. Exit 0 when none failed (skips allowed), 3 when any
 * did: a down service is a finding of this command, not a failure of it.
 */
export const health = defineCommand({
	path: ['health'],
	description: 'Check PostgreSQL and Redis roles, migrations, drift, the backup target and the age of the last backup and restore drill',
	options: z.object({
		...globalOptions,
		// No default here (unlike other commands): a missing default folder skips the pending
		// check, a missing folder named on purpose fails it, and only an absent value tells them apart.
		migrationsDir: z
			.string()
			.optional()
			.describe(optionMeta({description: 'Folder of migration files (default ./migrations; when that default is missing, the pending check is skipped)', valueDescription: 'dir', defaultValueDescription: DEFAULT_MIGRATIONS_DIR})),
		target: targetOption,
		maxBackupAge: durationOption('The newest backup must be younger than this (0: any backup will do)', '26h'),
		maxRestoreAge: durationOption('A restore drill (backup verify --drill) must have passed within this (0: any time)', '8d'),
		checkTimeout: durationOption('Each check fails if it has no answer within this', '10s'),
	}),
	async run({options}, context) {
		const [{checkHealth}, {parseDuration}] = await Promise.all([import('../../core/health/check-health.js'), import('../../core/duration.js')]);
		const limit = (value: string, noLimit: number) => {
			const ms = parseDuration(value) ?? 0;
			return ms === 0 ? noLimit : ms;
		};

		const report = await checkHealth(
			{
				databaseUrl: options.databaseUrl,
				redisUrl: options.redisUrl,
				migrationsDir: options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR,
				migrationsDirExplicit: options.migrationsDir !== undefined,
				rollbacksDir: options.rollbacksDir,
				backupTarget: options.target,
				maxBackupAgeMs: limit(options.maxBackupAge, Number.POSITIVE_INFINITY),
				maxRestoreAgeMs: limit(options.maxRestoreAge, Number.POSITIVE_INFINITY),
				checkTimeoutMs: limit(options.checkTimeout, NO_LIMIT_MS),
				env: context.env,
			},
			{signal: context.signal},
		);
		return {exitCode: report.ok ? 0 : 3, json: report, human: describe(report)};
	},
});

const TONES: Record<string, Tone | undefined> = {pass: undefined, fail: 'error', skip: 'muted'};

function describe(report: HealthReport): OutputBlock[] {
	const blocks: OutputBlock[] = [
		table(
			['CHECK', 'STATUS', 'LATENCY', 'DETAIL'],
			report.checks.map(check => [check.name, check.status.toUpperCase(), check.latencyMs === undefined ? '-' : formatLatency(check.latencyMs), check.message]),
			report.checks.map(check => TONES[check.status]),
		),
	];
	const failed = report.checks.filter(check => check.status === 'fail');
	// Checks sharing a cause share a next step (four Redis roles on one server): said once.
	const steps = new Map<string, string[]>();
	for (const check of failed) {
		const step = check.nextStep ?? check.message;
		steps.set(step, [...(steps.get(step) ?? []), check.name]);
	}

	for (const [step, names] of steps) {
		blocks.push(text(`✖ ${names.join(', ')}: ${step}`, 'error'));
	}

	blocks.push(
		failed.length === 0
			? text(`✔ healthy: ${report.checks.filter(check => check.status === 'pass').length} checks passed`, 'success')
			: text(`${failed.length} check(s) failed: ${failed.map(check => check.name).join(', ')}`, 'error'),
	);
	return blocks;
}

function formatLatency(ms: number): string {
	return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
