import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.{ts,tsx}'],
		globalSetup: ['test/support/global-setup.ts'],
		// Each file gets its own database, so files run in parallel; tests that start processes
		// and servers need more than the default 5 s.
		testTimeout: 60_000,
		hookTimeout: 120_000,
		pool: 'forks',
		// Ink renders only the final frame when it detects CI (is-in-ci reads CI at import), which
		// would hide every intermediate frame the UI tests look for. CI=false turns that off for
		// test workers and the CLI processes they start; vitest's own reporter is unaffected.
		// The AWS SDK's Node 20 support warning is silenced as the CLI does (source/cli.ts).
		env: {CI: 'false', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'},
	},
});
