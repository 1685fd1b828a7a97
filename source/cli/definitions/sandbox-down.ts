import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {text, type OutputBlock} from '../output-blocks.js';

/**
 * `msdb sandbox down [--purge]`: stops the sandbox's services; their data stays in
 * `./.msdb/sandbox/` for the next `up` unless `--purge` deletes it. Nothing running is not an error.
 */
export const sandboxDown = defineCommand({
	path: ['sandbox', 'down'],
	description: 'Stop the sandbox services (data kept for the next `up`; --purge deletes ./.msdb/sandbox)',
	options: z.object({
		...globalOptions,
		purge: z
			.boolean()
			.default(false)
			.describe(optionMeta({description: 'Also delete ./.msdb/sandbox: every service\'s data, logs and state (Docker: the containers and volumes)'})),
	}),
	async run({options}, context) {
		const {sandboxDown: down} = await import('../../core/sandbox/sandbox-down.js');
		const result = await down({cwd: process.cwd(), env: context.env, onEvent: context.onEvent, signal: context.signal, purge: options.purge});
		const human: OutputBlock[] = [
			text(result.stopped.length === 0 ? '# nothing was running' : `# stopped ${result.stopped.join(', ')}`, 'success'),
			text(
				result.purged
					? `# deleted ${result.directory}`
					: result.backend
						? `# data kept in ${result.directory} (the next \`msdb sandbox up\` finds it; \`msdb sandbox down --purge\` deletes it)`
						: '# no sandbox here',
				'muted',
			),
		];
		return {exitCode: 0, json: result, human};
	},
});
