/**
 * A throwaway project folder with migrations/ and rollbacks/, for tests that run msdb on files.
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll} from 'vitest';

export type MigrationProject = {
	dir: string;
	migrationsDir: string;
	rollbacksDir: string;
	/** Writes (or overwrites) migrations/<fileName>. */
	writeMigration(fileName: string, sql: string): Promise<string>;
	writeRollback(fileName: string, sql: string): Promise<string>;
	remove(): Promise<void>;
};

/** The files a project starts with, by file name. */
export type MigrationProjectFiles = {migrations?: Record<string, string>; rollbacks?: Record<string, string>};

export async function createMigrationProject(files: MigrationProjectFiles = {}): Promise<MigrationProject> {
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

/**
 * A project created before the enclosing describe's tests (then `prepare`d, e.g. applied to a
 * database) and removed after them. Read `current` inside tests only: it exists from beforeAll.
 */
export function useMigrationProject(files: MigrationProjectFiles, prepare?: (project: MigrationProject) => Promise<unknown>): {readonly current: MigrationProject} {
	let project: MigrationProject | undefined;
	beforeAll(async () => {
		project = await createMigrationProject(files);
		await prepare?.(project);
	});
	afterAll(async () => project?.remove());
	return {
		get current() {
			if (!project) {
				throw new Error('the project exists only inside tests');
			}

			return project;
		},
	};
}
