/**
 * The sandbox's S3 server as a process of its own: `node build/core/sandbox/s3-server-process.js
 * <directory> <port> <bucket>`. s3rver is a library, and the sandbox's services must outlive the
 * `msdb sandbox up` that started them, so `up` spawns this script detached (its output goes to
 * `.msdb/sandbox/logs/s3.log`). Objects are files under <directory>, kept across down/up.
 *
 * Accepts only s3rver's built-in key pair (sandbox-credentials.ts); listens on 127.0.0.1 only.
 * Runs until SIGTERM / SIGINT. Not imported by anything: it is an entry point.
 */
import {createS3rver} from '../provision/s3rver.js';

const [directory, portText, bucket] = process.argv.slice(2);
const port = Number(portText);
if (!directory || !bucket || !Number.isInteger(port) || port <= 0) {
	process.stderr.write('usage: s3-server-process.js <directory> <port> <bucket>\n');
	process.exit(2);
}

// Silent (createS3rver): the log is for start, stop and errors, not every request.
const server = createS3rver({port, directory, bucket});
try {
	await server.run();
} catch (error) {
	const code = (error as NodeJS.ErrnoException).code;
	process.stderr.write(`${new Date().toISOString()} s3rver could not listen on 127.0.0.1:${port}: ${code ?? ''} ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(1);
}

process.stdout.write(`${new Date().toISOString()} s3rver (pid ${process.pid}) listening on 127.0.0.1:${port}, bucket ${bucket}, data in ${directory}\n`);

let closing = false;
const shutdown = (signal: NodeJS.Signals) => {
	if (closing) {
		return;
	}

	closing = true;
	process.stdout.write(`${new Date().toISOString()} ${signal}: stopping\n`);
	// A stuck close must not keep a stopped sandbox's port busy.
	setTimeout(() => process.exit(0), 5000).unref();
	void server.close().finally(() => process.exit(0));
};

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
