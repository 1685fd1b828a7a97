#!/usr/bin/env node
// The msdb executable. Kept tiny: everything heavy is imported on demand by run-cli.
import {config as configureZod} from 'zod';
import {runCli} from './cli/run-cli.js';

// zod compiles each object schema into a function (new Function) on its first synchronous parse:
// worth it for a server parsing one shape a million times, not for a command that parses its
// options and a manifest once each, where compiling costs more than it saves (npm run bench).
configureZod({jitless: true});

// The AWS SDK warns on Node < 22 that releases after January 2027 will need Node 22. It is about
// which SDK versions msdb can upgrade to (package.json pins today's), not something an operator
// can act on, and it would break the "stderr is progress" contract of every S3 backup.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const exitCode = await runCli(process.argv.slice(2), {
	stdout: process.stdout,
	stderr: process.stderr,
	stdinIsTTY: Boolean(process.stdin.isTTY),
	env: process.env,
});
if (exitCode !== undefined) {
	process.exitCode = exitCode;
}
