import {shellExports} from '../../core/sandbox/sandbox-environment.js';
import type {SandboxStatus} from '../../core/sandbox/sandbox-status.js';
import {layoutTable, text, type OutputBlock} from '../output-blocks.js';

/*
 * `msdb sandbox up` and `status` print only shell: `# …` comments and `export NAME='value'`
 * lines, so `eval "$(msdb sandbox up)"` sets up the current shell, and the same text reads well.
 */

const BACKEND_NAMES = {local: 'local binaries', docker: 'Docker compose (project msdb-sandbox)'} as const;

/** The status table, every line a shell comment. */
export function describeServices(status: SandboxStatus): OutputBlock[] {
	const backend = status.backend ? BACKEND_NAMES[status.backend] : 'not started here';
	const blocks: OutputBlock[] = [text(`# msdb sandbox: ${backend} · ${status.directory}${status.startedAt ? ` · started ${status.startedAt.replace(/\.\d+Z$/, 'Z')}` : ''}`, 'muted')];
	const rows = (['postgres', 'redis', 's3'] as const).map(name => {
		const service = status.services[name];
		const where = service.url ? `${service.url}${name === 's3' ? ` (bucket ${status.bucket})` : ''}` : '-';
		return [name, service.state, where, service.pid === null ? '-' : String(service.pid), service.state === 'up' ? '' : service.detail];
	});
	const lines = layoutTable(['SERVICE', 'STATE', 'URL', 'PID', ''], rows);
	for (const [index, line] of lines.entries()) {
		const state = rows[index - 1]?.[1];
		blocks.push(text(`# ${line}`, index === 0 ? 'muted' : state === 'up' ? 'success' : 'error'));
	}

	return blocks;
}

/** The `export` lines, with a note on the credentials in them. */
export function describeEnvironment(status: SandboxStatus): OutputBlock[] {
	if (!status.env) {
		return [];
	}

	return [
		text(`# The S3 keys${status.env.PGPASSWORD ? ' and PGPASSWORD' : ''} below are the sandbox's fixed, public credentials: for this local sandbox only.`, 'muted'),
		...shellExports(status.env).map(line => text(line)),
		text('# Use it in this shell: eval "$(msdb sandbox up)" · stop: msdb sandbox down · delete its data: msdb sandbox down --purge', 'muted'),
	];
}
