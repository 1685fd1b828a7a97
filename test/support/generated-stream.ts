/**
 * Readable streams of pseudo-random bytes for backup tests, with the sha256 of exactly what was
 * emitted, so a target's digest and a downloaded copy can be checked against the source. They
 * can fail part-way (a producer dying) and run a hook before each chunk (to kill a server, or
 * to wait for one), and they are lazy: nothing is generated before it is read.
 */
import {createHash, randomBytes} from 'node:crypto';
import {Readable} from 'node:stream';

export const MiB = 1024 * 1024;

export type GeneratedStream = {
	stream: Readable;
	/** What has been emitted so far (all of it once the stream has ended). */
	emitted(): {bytes: number; sha256: string};
};

export function generatedStream(
	totalBytes: number,
	options: {
		chunkBytes?: number;
		/** Emit this many bytes, then fail with `failWith`. */
		failAfterBytes?: number;
		failWith?: Error;
		/** Awaited before each chunk, with the bytes emitted so far. */
		beforeChunk?: (emittedBytes: number) => Promise<void> | void;
	} = {},
): GeneratedStream {
	const chunkBytes = options.chunkBytes ?? 256 * 1024;
	const hash = createHash('sha256');
	let bytes = 0;
	async function* chunks(): AsyncGenerator<Buffer> {
		while (bytes < totalBytes) {
			await options.beforeChunk?.(bytes);
			if (options.failAfterBytes !== undefined && bytes >= options.failAfterBytes) {
				throw options.failWith ?? new Error('the producer died');
			}

			const chunk = randomBytes(Math.min(chunkBytes, totalBytes - bytes));
			hash.update(chunk);
			bytes += chunk.length;
			yield chunk;
		}
	}

	return {
		stream: Readable.from(chunks(), {objectMode: false}),
		emitted: () => ({bytes, sha256: hash.copy().digest('hex')}),
	};
}

/** sha256 and length of everything a stream yields. */
export async function hashStream(stream: Readable): Promise<{bytes: number; sha256: string}> {
	const hash = createHash('sha256');
	let bytes = 0;
	for await (const chunk of stream) {
		const buffer = chunk as Buffer;
		hash.update(buffer);
		bytes += buffer.length;
	}

	return {bytes, sha256: hash.digest('hex')};
}
