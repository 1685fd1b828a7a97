// Loaded with `node --import` into a process a benchmark measures: prints that process's peak
// resident set size on stderr as it exits, so the real executable is measured unchanged.
import process from 'node:process';

process.on('exit', () => {
	process.stderr.write(`bench-peak-rss-bytes: ${process.resourceUsage().maxRSS * 1024}\n`);
});
