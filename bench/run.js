// npm run bench: every bench/*.bench.js, one after another, each in its own process so one
// benchmark's warm caches, open sockets and garbage do not colour the next. Each prints its own
// ratios; `npm run bench -- cache` runs only the files whose name contains "cache".
import {spawnSync} from 'node:child_process';
import {readdirSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = readdirSync(here)
	.filter(file => file.endsWith('.bench.js') && file.includes(filter))
	.sort();
let failed = false;
for (const file of files) {
	console.log(`\n== ${file}`);
	const result = spawnSync(process.execPath, [path.join(here, file)], {stdio: 'inherit'});
	if (result.status !== 0) {
		console.log(`${file} failed (exit ${result.status ?? result.signal})`);
		failed = true;
	}
}

process.exitCode = failed ? 1 : 0;
