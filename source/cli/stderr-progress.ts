import {redact} from '../core/redact.js';
import type {ProgressEvent} from './command-definition.js';
import {describeProgress} from './progress-lines.js';

/** A migration that has run this long gets a "still running" line before it finishes. */
const SLOW_MS = 1000;

/** Scripts get a progress line per artifact at most this often: a log, not an animation. */
const ARTIFACT_LINE_INTERVAL_MS = 2000;

/**
 * Progress for scripts: `msdb: …` lines on stderr. One line per migration when it finishes
 * (`[3/40] applied 3_add_users in 12 ms`); a migration still running after a second announces
 * itself first, so a slow or stuck one is visible while it runs. Hundreds of fast migrations
 * then cost one write each, not two.
 */
export function createStderrProgress(write: (text: string) => void): (event: ProgressEvent) => void {
	let running: {label: string; timer: NodeJS.Timeout; announced: boolean} | undefined;
	const lastArtifactLine = new Map<string, number>();
	const emit = (line: string) => {
		write(`msdb: ${redact(line)}\n`);
	};

	return event => {
		if (event.type === 'migration:start') {
			const label = `[${event.index + 1}/${event.count}]`;
			const line = describeProgress(event) ?? '';
			const current = {label, announced: false, timer: setTimeout(() => {
				current.announced = true;
				emit(`${line} (still running)`);
			}, SLOW_MS)};
			current.timer.unref();
			running = current;
			return;
		}

		if (event.type === 'statement:start' && running) {
			// Statements of a no-transaction file are worth a line each: one can take minutes.
			clearTimeout(running.timer);
			running.announced = true;
			emit(`${running.label} ${event.version}: statement ${event.statement}/${event.statements} (line ${event.line}), outside a transaction`);
			return;
		}

		if ((event.type === 'migration:done' || event.type === 'migration:failed') && running) {
			clearTimeout(running.timer);
			const line = describeProgress(event);
			if (line) {
				emit(`${running.label} ${line.trim()}`);
			}

			running = undefined;
			return;
		}

		if (event.type === 'artifact:progress') {
			const now = performance.now();
			if (now - (lastArtifactLine.get(event.key) ?? 0) < ARTIFACT_LINE_INTERVAL_MS) {
				return;
			}

			lastArtifactLine.set(event.key, now);
		}

		const line = describeProgress(event);
		if (line) {
			emit(line);
		}
	};
}
