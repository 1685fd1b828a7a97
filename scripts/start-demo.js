#!/usr/bin/env node
// `npm start` (after `npm run build`): the console on a local sandbox, with one command.
//
// 1. `msdb sandbox up` — PostgreSQL, Redis and S3 in ./.msdb/sandbox (they keep running after
//    this script; `msdb sandbox down` stops them);
// 2. `msdb migrate apply` — the framework's schema from ./migrations;
// 3. `msdb load --rate 50` in the background (output in .msdb/sandbox/load.log), so the gauges move;
// 4. `msdb` — the console, in this terminal. When it exits, the load stops.
//
// Without a terminal (CI, a pipe) it stops after step 2 and prints the environment instead.
import {spawn, spawnSync} from 'node:child_process';
import {closeSync, mkdirSync, openSync} from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'build', 'bundle', 'msdb.js');
const loadLog = path.join(root, '.msdb', 'sandbox', 'load.log');
const LOAD_RATE = '50';

function say(line) {
	process.stderr.write(`npm start: ${line}\n`);
}

// Settings from the developer's shell that would point msdb somewhere other than the sandbox.
const env = {...process.env};
for (const name of Object.keys(env)) {
	if (
		/^(DATABASE|REDIS)(_[A-Z]+)?_URL$/.test(name) ||
		/^PG(HOST|HOSTADDR|PORT|USER|PASSWORD|DATABASE|SERVICE|SSLMODE)$/.test(name) ||
		/^(MSDB_BACKUP_TARGET|S3_ENDPOINT|AWS_ENDPOINT_URL_S3|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_PROFILE|AWS_REGION)$/.test(name)
	) {
		delete env[name];
	}
}

/** Runs msdb to completion, stdout captured (plain text: not a terminal), stderr shown as it comes. */
function msdb(args) {
	return spawnSync(process.execPath, [cli, ...args], {cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8'});
}

say('starting the sandbox (msdb sandbox up)');
const up = msdb(['sandbox', 'up', '--json']);
if (up.status !== 0) {
	say(`msdb sandbox up failed (exit ${up.status ?? up.signal}); see above.`);
	process.exit(up.status || 1);
}

const sandbox = JSON.parse(up.stdout);
Object.assign(env, sandbox.env);

say('applying the migrations (msdb migrate apply)');
const migrate = msdb(['migrate', 'apply']);
process.stderr.write(migrate.stdout);
if (migrate.status !== 0) {
	say(`msdb migrate apply failed (exit ${migrate.status ?? migrate.signal}); see above.`);
	process.exit(migrate.status || 1);
}

const exports = Object.entries(sandbox.env).map(([name, value]) => `export ${name}='${value}'`);
if (!process.stdin.isTTY || !process.stdout.isTTY) {
	say('no terminal here, so no console and no demo load. The sandbox is up; to use it:');
	process.stdout.write(`${exports.join('\n')}\n`);
	process.exit(0);
}

// Detached: its own process group, so the console's Ctrl-C does not reach it; we stop it.
mkdirSync(path.dirname(loadLog), {recursive: true});
const logFd = openSync(loadLog, 'a');
const load = spawn(process.execPath, [cli, 'load', '--rate', LOAD_RATE], {cwd: root, env, detached: true, stdio: ['ignore', logFd, logFd]});
closeSync(logFd);
load.unref();
let loadExit;
load.on('exit', (code, signal) => {
	loadExit = signal ?? code;
});
let loadStopped = false;
const stopLoad = () => {
	if (!loadStopped && loadExit === undefined && load.pid !== undefined) {
		loadStopped = true;
		try {
			// SIGTERM: `msdb load` stops pacing, lets running operations finish and closes its pools.
			process.kill(-load.pid, 'SIGTERM');
		} catch {
			// Already gone.
		}
	}
};

process.on('exit', stopLoad);

say(`demo load started (msdb load --rate ${LOAD_RATE}, log in ${path.relative(process.cwd(), loadLog)}); opening the console`);
const consoleProcess = spawn(process.execPath, [cli], {cwd: root, env, stdio: 'inherit'});
// The terminal sends Ctrl-C to the console and to us: the console decides what it means.
process.on('SIGINT', () => {});
for (const signal of ['SIGTERM', 'SIGHUP']) {
	process.on(signal, () => {
		consoleProcess.kill(signal);
	});
}

consoleProcess.on('exit', (code, signal) => {
	stopLoad();
	if (loadExit !== undefined) {
		say(`the demo load had stopped early (${loadExit}); see ${loadLog}`);
	}

	say('the sandbox keeps running. In another shell: `eval "$(node build/bundle/msdb.js sandbox status)"` to use it,');
	say('`node build/bundle/msdb.js sandbox down` to stop it (`--purge` also deletes its data).');
	process.exit(code ?? (signal ? 1 : 0));
});
