import {Box, Text} from 'ink';
import type {RestoreBackupResult} from '../../core/backup/restore-backup.js';
import {redact} from '../../core/redact.js';
import {formatMs} from '../../cli/progress-lines.js';
import type {RestorePlan} from './restore-plan.js';

/**
 * The end of a restore: what now holds the data, the post-restore checks (counts against the
 * manifest), warnings, and the core's next steps — for a replace, how to switch back.
 */
export function RestoreSummary({plan, result}: {plan: RestorePlan; result: RestoreBackupResult}) {
	const {postgres, redis} = result;
	const manifest = plan.backup.manifest;
	const tablesCompared = Object.keys(manifest.postgres?.rowCounts ?? {}).length;
	return (
		<Box flexDirection="column" gap={1}>
			<Box flexDirection="column">
				<Text color={result.problems.length === 0 ? 'green' : 'yellow'}>
					{result.problems.length === 0 ? '✔' : '!'} Backup <Text bold>{result.id}</Text> restored.
				</Text>
				{postgres ? (
					<Text>
						PostgreSQL: the data is in <Text bold>&quot;{postgres.database}&quot;</Text>
						{postgres.asideDatabase ? (
							<>
								; the previous database is kept as <Text bold>&quot;{postgres.asideDatabase}&quot;</Text>
							</>
						) : (
							'; nothing else was changed'
						)}{' '}
						({formatMs(postgres.elapsedMs)}).
					</Text>
				) : undefined}
				{redis ? (
					<Text>
						Redis: {redis.restored} key(s) restored{redis.skippedExpired > 0 ? `, ${redis.skippedExpired} already expired and skipped` : ''}
						{plan.redisDestination ? ` into ${redact(plan.redisDestination.display)}` : ''}.
					</Text>
				) : undefined}
			</Box>
			<Box flexDirection="column">
				<Text bold>Checks after the restore</Text>
				{postgres ? (
					manifest.postgres?.rowCounts ? (
						postgres.countProblems.length === 0 ? (
							<Text color="green">✔ PostgreSQL row counts match the backup in all {tablesCompared} table(s).</Text>
						) : (
							postgres.countProblems.map(problem => (
								<Text key={problem} color="red">
									✖ {redact(problem)}
								</Text>
							))
						)
					) : (
						<Text color="gray">- PostgreSQL row counts not compared: the backup recorded none.</Text>
					)
				) : undefined}
				{redis ? (
					redis.problems.length === 0 ? (
						<Text color="green">✔ Redis key counts match the backup.</Text>
					) : (
						redis.problems.map(problem => (
							<Text key={problem} color="red">
								✖ {redact(problem)}
							</Text>
						))
					)
				) : undefined}
				{(postgres?.warnings ?? []).map(warning => (
					<Text key={warning} color="yellow">
						! {redact(warning)}
					</Text>
				))}
			</Box>
			<Box flexDirection="column">
				<Text bold>Next steps</Text>
				{result.nextSteps.map((step, index) => {
					// The switch-back SQL is meant to be copied: its statements go on lines of their own.
					const sql = postgres?.switchBack && step.includes(postgres.switchBack) ? postgres.switchBack : undefined;
					const sentence = sql ? step.replace(sql, '').trimEnd() : step;
					return (
						<Box key={index} flexDirection="column">
							<Text>
								{index + 1}. {redact(sentence)}
							</Text>
							{(sql ?? '')
								.split('\n')
								.filter(line => line !== '')
								.map((line, lineIndex) => (
									<Text key={lineIndex} color="cyan">
										{'     '}
										{redact(line)}
									</Text>
								))}
						</Box>
					);
				})}
			</Box>
		</Box>
	);
}
