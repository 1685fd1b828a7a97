import {asMsdbError, type MsdbError} from '../core/errors.js';
import {redact, redactDeep} from '../core/redact.js';

/** The human form of an error, for stderr: message, next step, code. Redacted. */
export function formatErrorForHumans(error: MsdbError): string {
	const lines = [`✖ ${error.message}`];
	if (error.nextStep) {
		lines.push(`  → ${error.nextStep}`);
	}

	lines.push(`  (${error.code}${error.isBug ? ', a bug' : ''})`);
	return redact(lines.join('\n'));
}

/** The `--json` form: `{"error": {code, message, nextStep, details}}`. Redacted. */
export function formatErrorAsJson(error: MsdbError): string {
	return JSON.stringify(redactDeep({error: error.toJSON()}), null, 2);
}

export {asMsdbError};
