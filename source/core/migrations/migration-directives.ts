/**
 * Directives in a migration's leading comment block, e.g.
 *
 *   -- msdb:no-transaction
 *   -- msdb:lock-timeout 30s
 *   -- msdb:statement-timeout 0
 *
 * Unknown directives, and directives that appear after the first SQL line, are errors rather
 * than being ignored: a silently ignored `no-transaction` is how CIC migrations hang in other
 * tools (atlas#3596).
 */

import {DURATION_HINT, parseDuration, postgresDuration} from '../duration.js';

export type MigrationDirectives = {
	/** Run outside a transaction, one statement at a time (for CREATE INDEX CONCURRENTLY). */
	noTransaction: boolean;
	/** Overrides the run's lock_timeout for this file (PostgreSQL duration). */
	lockTimeout?: string;
	/** Overrides the run's statement_timeout for this file (PostgreSQL duration). */
	statementTimeout?: string;
};

export type DirectiveProblem = {line: number; message: string};

const DIRECTIVE = /^--\s*msdb:([a-z-]*)\s*(.*?)\s*$/;
const DIRECTIVE_ANYWHERE = /--\s*msdb:/;

/** Reads the directives of a normalised (LF) SQL text. */
export function parseDirectives(sql: string): {directives: MigrationDirectives; problems: DirectiveProblem[]} {
	const directives: MigrationDirectives = {noTransaction: false};
	const problems: DirectiveProblem[] = [];
	const lines = sql.split('\n');
	let inLeadingBlock = true;

	for (const [index, rawLine] of lines.entries()) {
		const line = rawLine.trim();
		const lineNumber = index + 1;
		if (inLeadingBlock && (line === '' || line.startsWith('--'))) {
			const match = DIRECTIVE.exec(line);
			if (match) {
				readDirective(match[1] ?? '', match[2] ?? '', lineNumber, directives, problems);
			}

			continue;
		}

		inLeadingBlock = false;
		if (DIRECTIVE_ANYWHERE.test(line) && line.startsWith('--')) {
			problems.push({
				line: lineNumber,
				message:
					'msdb directives must be in the comment block at the top of the file, before any SQL; this one would be ignored',
			});
		}
	}

	return {directives, problems};
}

function readDirective(
	name: string,
	value: string,
	line: number,
	directives: MigrationDirectives,
	problems: DirectiveProblem[],
): void {
	switch (name) {
		case 'no-transaction': {
			if (value !== '') {
				problems.push({line, message: `msdb:no-transaction takes no value, found "${value}"`});
			}

			directives.noTransaction = true;
			return;
		}

		case 'lock-timeout':
		case 'statement-timeout': {
			if (parseDuration(value) === undefined) {
				problems.push({
					line,
					message: `msdb:${name} needs ${DURATION_HINT}, found "${value}"`,
				});
				return;
			}

			if (name === 'lock-timeout') {
				directives.lockTimeout = postgresDuration(value);
			} else {
				directives.statementTimeout = postgresDuration(value);
			}

			return;
		}

		default: {
			problems.push({
				line,
				message: `unknown directive msdb:${name}; known ones are msdb:no-transaction, msdb:lock-timeout, msdb:statement-timeout`,
			});
		}
	}
}
