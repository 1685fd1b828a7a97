import Pastel from 'pastel';

/**
 * The terminal face: pastel reads the commands in ./commands (every file a command, every folder
 * a group) and renders them with Ink. Only loaded when a person is at a terminal.
 */
export async function runPastelApp(argv: string[]): Promise<void> {
	const app = new Pastel({
		importMeta: import.meta,
		name: 'msdb',
		description: 'mister-smith-db: PostgreSQL + Redis data layer and ops console',
	});
	await app.run(['node', 'msdb', ...argv]);
}
