import type {Readable, Writable} from 'node:stream';

/** Resolves when `stream` can take more, or can take nothing any more (closed, errored). */
async function writableAgain(stream: Writable): Promise<void> {
	await new Promise<void>(resolve => {
		const done = () => {
			stream.off('drain', done);
			stream.off('close', done);
			stream.off('error', done);
			resolve();
		};

		stream.on('drain', done);
		stream.on('close', done);
		stream.on('error', done);
	});
}

/**
 * Streams an artifact into a child program's stdin while `onChunk` sees every byte of it (to
 * hash and count), with back-pressure, so memory stays flat.
 *
 * Reading goes on to the end even after the program stops reading (`pg_restore --list` stops
 * after the table of contents; pg_restore may leave trailing bytes): the hash must cover the
 * whole artifact. `abandon()` returning true stops early instead (the program failed: reading on
 * would only waste a download). Rejects when the source fails or `signal` fires.
 */
export async function feedStdin(
	source: Readable,
	stdin: Writable | null,
	options: {onChunk: (chunk: Buffer) => void; abandon?: () => boolean; signal?: AbortSignal | undefined},
): Promise<{complete: boolean}> {
	let open = stdin !== null && !stdin.destroyed && stdin.writable;
	const markClosed = () => {
		open = false;
	};

	// EPIPE when the program has exited: not our failure, its exit status tells.
	stdin?.on('error', markClosed);
	stdin?.once('close', markClosed);
	try {
		for await (const chunk of source as AsyncIterable<Buffer>) {
			options.signal?.throwIfAborted();
			if (options.abandon?.()) {
				source.destroy();
				return {complete: false};
			}

			options.onChunk(chunk);
			if (open && stdin && !stdin.write(chunk) && open) {
				await writableAgain(stdin);
			}
		}

		return {complete: true};
	} finally {
		if (open && stdin) {
			stdin.end();
		}
	}
}
