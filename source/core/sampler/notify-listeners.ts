/**
 * Calls every listener with `value`. A listener that throws must not stop the others, nor the
 * poll chain that called it (polling would silently end): its error is rethrown on its own in a
 * microtask, where it surfaces as the bug it is. Iterates a copy, so a listener may unsubscribe.
 */
export function notifyListeners<T>(listeners: Iterable<(value: T) => void>, value: T): void {
	for (const listener of [...listeners]) {
		try {
			listener(value);
		} catch (error) {
			queueMicrotask(() => {
				throw error;
			});
		}
	}
}
