import type {Readable, Stream} from 'node:stream';

/**
 * Remembers the error the body of a `put` failed with, if the failure started there. When an
 * upload fails, the target must tell "the producer failed" (pg_dump died: rethrow its error
 * unchanged, the caller knows what it means) from "the target failed" (S3 is down, the disk is
 * full: a target error). A pipeline destroys every stream with the first error, so the body
 * also emits errors that began downstream; those come after a downstream stream's own, and are
 * not the body's. Read the result before tearing streams down yourself.
 */
export function watchSourceFailure(body: Readable, downstream: Stream[]): () => unknown {
	let failure: unknown;
	let downstreamFailedFirst = false;
	body.once('error', (error: unknown) => {
		if (!downstreamFailedFirst) {
			failure = error;
		}
	});
	for (const stream of downstream) {
		stream.once('error', () => {
			if (failure === undefined) {
				downstreamFailedFirst = true;
			}
		});
	}

	return () => failure;
}
