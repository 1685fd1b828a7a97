/**
 * For tests of validation that throws synchronously: the ActionableError `work` throws, so the
 * test can check its code, message and next step (`expect(...).toThrow()` checks only one).
 */
import {expect} from 'vitest';
import {ActionableError} from '../../source/core/errors.js';

/** The ActionableError `work` throws; fails the test when it throws something else or nothing. */
export function thrownActionableError(work: () => unknown): ActionableError {
	try {
		work();
	} catch (error) {
		expect(error).toBeInstanceOf(ActionableError);
		return error as ActionableError;
	}

	throw new Error('expected an error');
}
