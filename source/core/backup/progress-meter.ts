import {Transform, type TransformCallback} from 'node:stream';
import type {BackupEvent, BackupEventListener} from './backup-events.js';
import type {BackupComponent} from './backup-manifest-types.js';

type Operation = Extract<BackupEvent, {type: 'artifact:progress'}>['operation'];

/** At most this many progress events per second per artifact: enough for a bar, cheap for a log. */
const EMIT_INTERVAL_MS = 250;

/**
 * Turns a growing byte count into `artifact:start` / `artifact:progress` / `artifact:done`
 * events with rate and ETA, throttled. Shared by every backup, verify and restore step so they
 * all report progress the same way.
 */
export class ProgressMeter {
	readonly #started = performance.now();
	#bytes = 0;
	#lastEmit = 0;

	constructor(
		private readonly artifact: {component: BackupComponent; key: string; operation: Operation; totalBytes: number | null},
		private readonly onEvent: BackupEventListener,
	) {
		onEvent({type: 'artifact:start', ...artifact});
	}

	get bytes(): number {
		return this.#bytes;
	}

	/** Adds `count` bytes; emits a progress event when the interval has passed. */
	add(count: number): void {
		this.#bytes += count;
		const now = performance.now();
		if (now - this.#lastEmit >= EMIT_INTERVAL_MS) {
			this.#lastEmit = now;
			this.#emitProgress(now);
		}
	}

	/** Sets the absolute count (for producers that report totals, like multipart uploads). */
	set(bytes: number): void {
		this.add(bytes - this.#bytes);
	}

	/** A pass-through stream that counts what flows through it. */
	counter(): Transform {
		return new Transform({
			transform: (chunk: Buffer, _encoding, callback: TransformCallback) => {
				this.add(chunk.length);
				callback(null, chunk);
			},
		});
	}

	done(extra: {sha256?: string} = {}): void {
		this.#emitProgress(performance.now());
		this.onEvent({
			type: 'artifact:done',
			component: this.artifact.component,
			key: this.artifact.key,
			operation: this.artifact.operation,
			bytes: this.#bytes,
			elapsedMs: performance.now() - this.#started,
			...extra,
		});
	}

	#emitProgress(now: number): void {
		const seconds = Math.max((now - this.#started) / 1000, 0.001);
		const bytesPerSecond = this.#bytes / seconds;
		const {totalBytes} = this.artifact;
		this.onEvent({
			type: 'artifact:progress',
			component: this.artifact.component,
			key: this.artifact.key,
			operation: this.artifact.operation,
			bytes: this.#bytes,
			totalBytes,
			bytesPerSecond,
			etaSeconds: totalBytes !== null && bytesPerSecond > 0 ? Math.max(0, (totalBytes - this.#bytes) / bytesPerSecond) : null,
		});
	}
}
