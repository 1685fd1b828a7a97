// Helpers every bench/*.bench.js shares. (bench/run.js only runs *.bench.js files, so this one
// is imported, never run.)

/** The median of a list of numbers. */
export const median = values => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Milliseconds `work` took. */
export async function timed(work) {
	const started = performance.now();
	await work();
	return performance.now() - started;
}
