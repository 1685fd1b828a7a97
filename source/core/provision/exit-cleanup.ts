/**
 * Last-resort cleanup when the Node process exits without calling `stop()` (a crashed test run,
 * a forgotten teardown): servers we spawned must not outlive us unnoticed, and their temp
 * directories should not pile up in /tmp.
 *
 * Only synchronous work can run in an 'exit' listener, so handlers send signals and remove
 * directories with the sync APIs, best effort. A SIGKILL of Node itself skips this; the servers'
 * process group still receives a terminal's Ctrl-C.
 */

const handlers = new Set<() => void>();
let installed = false;

function runHandlers(): void {
	// Last registered first, like nested `finally` blocks: a server is killed before the
	// directory it was started in is removed.
	for (const handler of [...handlers].reverse()) {
		try {
			handler();
		} catch {
			// Best effort: one failing handler must not stop the others.
		}
	}

	handlers.clear();
}

/** Runs `handler` synchronously when the process exits; returns a function that unregisters it. */
export function registerExitCleanup(handler: () => void): () => void {
	if (!installed) {
		installed = true;
		process.on('exit', runHandlers);
	}

	handlers.add(handler);
	return () => {
		handlers.delete(handler);
	};
}
