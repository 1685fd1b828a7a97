import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {text} from '../output-blocks.js';
import {describeEnvironment, describeServices} from './sandbox-shared.js';

/**
 * `msdb sandbox up`: PostgreSQL, Redis and an S3 endpoint for local use, started detached in
 * `./.msdb/sandbox/` (Docker compose where an engine answers, else local binaries and s3rver);
 * prints the environment to use them. Idempotent: what is up is left alone.
 */
export const sandboxUp = defineCommand({
	path: ['sandbox', 'up'],
	description: 'Start PostgreSQL, Redis and S3 for local use (state in ./.msdb/sandbox) and print the environment to use them',
	options: z.object({...globalOptions}),
	async run(_input, context) {
		const {sandboxUp: up} = await import('../../core/sandbox/sandbox-up.js');
		const result = await up({cwd: process.cwd(), env: context.env, onEvent: context.onEvent, signal: context.signal});
		const summary =
			result.started.length === 0
				? '# already up: nothing to start'
				: `# started ${result.started.join(', ')}`;
		return {
			exitCode: 0,
			json: result,
			human: [text(summary, 'success'), ...describeServices(result), ...describeEnvironment(result)],
		};
	},
});
