import {Box, Text} from 'ink';
import type {MsdbError} from '../../core/errors.js';
import {sqlFailureLocation, type SqlFailure} from '../../core/migrations/run-migration-sql.js';
import {redact} from '../../core/redact.js';

/** Where a migration or rollback failed, from the error's details (what SqlFailureError carries). */
type SqlFailureDetails = Omit<SqlFailure, 'statement' | 'statementsCompleted'>;

/** Props of {@link OperationFailure}. */
export type OperationFailureProps = {
	error: MsdbError;
	/** The SQL that failed, to show the failing line in context; omitted when not at hand. */
	sql?: string | undefined;
};

/**
 * A failed (or cancelled) core operation, as an on-call engineer needs it: what failed, where
 * (file:line:column and the line itself), what the server said, what to do next. Redacted, since
 * server messages can quote connection strings.
 */
export function OperationFailure({error, sql}: OperationFailureProps) {
	const sqlFailure = sqlFailureOf(error);
	const [headline = error.message] = error.message.split('\n');
	const color = error.code === 'E_CANCELLED' ? 'yellow' : 'red';
	return (
		<Box flexDirection="column">
			<Text color={color} bold>
				{error.code === 'E_CANCELLED' ? '■ ' : '✖ '}
				{redact(headline)}
			</Text>
			{sqlFailure ? (
				<Box flexDirection="column" paddingLeft={2}>
					<Text>
						<Text color="gray">file    </Text>
						{redact(sqlFailureLocation(sqlFailure))}
					</Text>
					<Text>
						<Text color="gray">server  </Text>
						{sqlFailure.sqlState ? `SQLSTATE ${sqlFailure.sqlState}: ` : ''}
						{redact(sqlFailure.serverMessage)}
					</Text>
					{sqlFailure.detail ? (
						<Text>
							<Text color="gray">detail  </Text>
							{redact(sqlFailure.detail)}
						</Text>
					) : undefined}
					{sqlFailure.hint ? (
						<Text>
							<Text color="gray">hint    </Text>
							{redact(sqlFailure.hint)}
						</Text>
					) : undefined}
					{sqlFailure.where ? (
						<Text>
							<Text color="gray">context </Text>
							{redact(sqlFailure.where)}
						</Text>
					) : undefined}
					{sql && sqlFailure.line !== undefined ? <FailingLine sql={sql} line={sqlFailure.line} column={sqlFailure.column} /> : undefined}
				</Box>
			) : (
				error.message
					.split('\n')
					.slice(1)
					.map((line, index) => (
						// The lines of one message never reorder, so their position is a stable key.
						<Text key={index}>{redact(line)}</Text>
					))
			)}
			{error.nextStep ? <Text color="cyan">→ {redact(error.nextStep)}</Text> : undefined}
			<Text color="gray">
				({error.code}
				{error.isBug ? ', a bug' : ''})
			</Text>
		</Box>
	);
}

function FailingLine({sql, line, column}: {sql: string; line: number; column: number | undefined}) {
	const lines = sql.split('\n');
	const text = lines[line - 1];
	if (text === undefined) {
		return undefined;
	}

	const gutter = `${line} │ `;
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text wrap="truncate-end">
				<Text color="gray">{gutter}</Text>
				{redact(text)}
			</Text>
			{column === undefined ? undefined : (
				<Text color="red">
					{' '.repeat(gutter.length + Math.max(0, column - 1))}^
				</Text>
			)}
		</Box>
	);
}

function sqlFailureOf(error: MsdbError): SqlFailureDetails | undefined {
	const details = error.details as Partial<SqlFailureDetails>;
	if (typeof details.file !== 'string' || typeof details.serverMessage !== 'string') {
		return undefined;
	}

	return details as SqlFailureDetails;
}
