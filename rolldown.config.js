// The msdb executable as a bundle (build/bundle/msdb.js), built from tsc's output in build/.
//
// Why: scripts call msdb often and wait for it, and Node spends most of a short command's life
// resolving and reading hundreds of small ES modules (execa, pg, zod …). One module graph
// flattened into a few chunks (one per lazily imported command) halves start-up; measured in
// `npm run bench`. The library (build/index.js) stays unbundled: services bundle it themselves.
//
// Left outside the bundle:
// - the Ink face (build/pastel-app.js and everything it imports): pastel finds its commands by
//   reading build/commands/ at run time, so it must run from the module tree;
// - packages that load files next to their own code (libpg-query's WebAssembly) or are heavy
//   and only for development (testcontainers, s3rver).
/** @type {import('rolldown').RolldownOptions} */
export default {
	input: {msdb: 'build/cli.js'},
	platform: 'node',
	external: ['libpg-query', 'testcontainers', 's3rver', 'ink', 'react', 'pastel', /^@inkjs\//],
	plugins: [
		{
			name: 'pg-without-the-cloudflare-probe',
			// pg decides at load time whether it runs in a Cloudflare Worker by constructing a
			// `Response`, which on Node 20 loads the whole built-in fetch implementation (undici):
			// ~13 ms of every command that talks to PostgreSQL, before it can connect. The bundle
			// only ever runs on Node, so the probe is answered at build time. The lockfile pins pg;
			// if an upgrade reshapes the code, the build says so instead of silently slowing down.
			transform(code, id) {
				if (!/[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/.test(id)) {
					return undefined;
				}

				const probe = 'if (isCloudflareRuntime()) {';
				if (!code.includes(probe)) {
					throw new Error(`pg's lib/stream.js no longer contains "${probe}": update the pg-without-the-cloudflare-probe plugin in rolldown.config.js`);
				}

				return code.replace(probe, 'if (false) { // answered at build time: the bundle runs on Node');
			},
		},
		{
			name: 'ink-face-outside-the-bundle',
			// build/cli/run-cli.js imports '../pastel-app.js'; from build/bundle/ that is the same file.
			resolveId(source) {
				return source.endsWith('/pastel-app.js') ? {id: '../pastel-app.js', external: true} : undefined;
			},
		},
	],
	output: {dir: 'build/bundle', format: 'esm', chunkFileNames: '[name]-[hash].js', cleanDir: true},
};
