/**
 * A throwaway project folder with migrations/ and rollbacks/, for tests that run msdb on files.
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type MigrationProject = {
	dir: string;
	migrationsDir: string;
	rollbacksDir: string;
	/** Writes (or overwrites) migrations/<fileName>. */
	writeMigration(fileName: string, sql: string): Promise<string>;
	writeRollback(fileName: string, sql: string): Promise<string>;
	remove(): Promise<void>;
};

export async function createMigrationProject(files: {migrations?: Record<string, string>; rollbacks?: Record<string, string>} = {}): Promise<MigrationProject> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'msdb-project-'));
	const migrationsDir = path.join(dir, 'migrations');
	const rollbacksDir = path.join(dir, 'rollbacks');
	await mkdir(migrationsDir);
	await mkdir(rollbacksDir);
	const project: MigrationProject = {
		dir,
		migrationsDir,
		rollbacksDir,
		async writeMigration(fileName, sql) {
			const file = path.join(migrationsDir, fileName);
			await writeFile(file, sql);
			return file;
		},
		async writeRollback(fileName, sql) {
			const file = path.join(rollbacksDir, fileName);
			await writeFile(file, sql);
			return file;
		},
		async remove() {
			await rm(dir, {recursive: true, force: true});
		},
	};
	for (const [name, sql] of Object.entries(files.migrations ?? {})) {
		await project.writeMigration(name, sql);
	}

	for (const [name, sql] of Object.entries(files.rollbacks ?? {})) {
		await project.writeRollback(name, sql);
	}

	return project;
}
