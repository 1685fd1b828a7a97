import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {text} from '../output-blocks.js';
import {describeEnvironment, describeServices} from './sandbox-shared.js';

/**
 * `msdb sandbox status`: which sandbox services of `./.msdb/sandbox/` answer, where, and the
 * environment to use them. A check: exit 0 when all are up, 3 when any is down (or the sandbox
 * was never started here). Starts nothing.
 */
export const sandboxStatus = defineCommand({
	path: ['sandbox', 'status'],
	description: 'Which sandbox services run (exit 3 when any is down), their URLs and pids, and the environment to use them',
	options: z.object({...globalOptions}),
	async run(_input, context) {
		const {sandboxStatus: status} = await import('../../core/sandbox/sandbox-status.js');
		const result = await status({cwd: process.cwd(), env: context.env});
		return {
			exitCode: result.up ? 0 : 3,
			json: result,
			human: [
				...describeServices(result),
				...(result.up ? describeEnvironment(result) : [text('# Not all up: `msdb sandbox up` starts what is missing.', 'warning')]),
			],
		};
	},
});
