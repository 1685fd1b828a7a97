import {createHash} from 'node:crypto';
import {Transform, type TransformCallback} from 'node:stream';

/** A pass-through stream that hashes and counts what flows through it. */
export type HashingTap = {
	readonly stream: Transform;
	/** Bytes seen so far. */
	readonly bytes: () => number;
	/** The hex sha256 of everything seen; call once, after the stream has ended. */
	readonly sha256: () => string;
};

/**
 * Hashes (sha256) and counts the bytes of an upload as they pass, so the stored object's digest
 * comes from the bytes actually sent, in one pass, without holding them: memory stays flat
 * however large the artifact. `onProgress` gets the running total after every chunk; callers
 * throttle (ProgressMeter does).
 */
export function createHashingTap(onProgress?: (bytes: number) => void): HashingTap {
	const hash = createHash('sha256');
	let bytes = 0;
	const stream = new Transform({
		transform(chunk: Buffer, _encoding, callback: TransformCallback) {
			hash.update(chunk);
			bytes += chunk.length;
			onProgress?.(bytes);
			callback(null, chunk);
		},
	});
	return {stream, bytes: () => bytes, sha256: () => hash.digest('hex')};
}
