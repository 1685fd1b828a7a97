import type {ArtifactRef} from '../backup-manifest-types.js';
import {BugError} from '../../errors.js';
import {DumpStreamParser} from './dump-stream-parser.js';
import {RdbParser} from './rdb-parser.js';
import type {RedisArtifactHandlers, RedisArtifactParser} from './redis-key-record.js';

/** The parser for a Redis artifact's format, as the manifest records it. */
export function createRedisArtifactParser(format: ArtifactRef['format'], options: RedisArtifactHandlers & {label: string}): RedisArtifactParser {
	switch (format) {
		case 'rdb': {
			return new RdbParser(options);
		}

		case 'msdb-redis-dump-v1': {
			return new DumpStreamParser(options);
		}

		default: {
			throw new BugError(`A Redis manifest part names the artifact format ${JSON.stringify(format)}.`);
		}
	}
}
