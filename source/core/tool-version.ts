import {readFileSync} from 'node:fs';

let cached: string | undefined;

/**
 * msdb's own version, recorded in history rows and manifests. Read from package.json at run
 * time (two levels up from both source/core and build/core), once.
 */
export function toolVersion(): string {
	if (cached === undefined) {
		try {
			const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version?: string};
			cached = packageJson.version ?? 'unknown';
		} catch {
			cached = 'unknown';
		}
	}

	return cached;
}
