// Lint = typecheck (tsc, in `npm run lint`) + these rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const uiModules = ['react', 'react/*', 'ink', 'ink-*', '@inkjs/*', 'pastel', 'ink-testing-library'];

export default tseslint.config(
	{ignores: ['build/', 'node_modules/', 'coverage/', 'bench/.work/']},
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		files: ['**/*.{ts,tsx}'],
		rules: {
			'@typescript-eslint/consistent-type-imports': 'error',
			'@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
		},
	},
	{
		// The core is headless: services, scripts and the console all share it.
		files: ['source/core/**/*.{ts,tsx}'],
		rules: {
			'no-restricted-imports': [
				'error',
				{
					patterns: [
						{
							group: uiModules,
							message: 'source/core must stay headless: no React, Ink or pastel. Put UI code in source/ui.',
						},
						{
							group: ['**/ui/*', '**/commands/*', '**/cli/*'],
							message: 'source/core must not depend on the faces built on it.',
						},
					],
				},
			],
		},
	},
	{
		// The UI talks to core through its public functions and events only; no SQL or Redis here.
		files: ['source/ui/**/*.{ts,tsx}'],
		rules: {
			'no-restricted-imports': [
				'error',
				{
					paths: [
						{name: 'pg', message: 'source/ui renders; queries belong in source/core.'},
						{name: 'ioredis', message: 'source/ui renders; Redis commands belong in source/core.'},
					],
				},
			],
		},
	},
	{
		// Tests read JSON printed by the CLI; typing every document would add noise, not safety.
		files: ['test/**/*.{ts,tsx}'],
		rules: {'@typescript-eslint/no-explicit-any': 'off'},
	},
	{
		files: ['bench/**/*.{js,mjs}', '.ci/**/*.js'],
		languageOptions: {globals: {process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly'}},
	},
);
