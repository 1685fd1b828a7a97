/**
 * A line of news from a long-running command (`msdb worker`, `msdb metrics`, `msdb load`): what
 * it did or what it sees now. Producers decide how often to send them (a log, not an animation);
 * both faces print them as they come.
 */
export type StatusEvent = {
	type: 'status';
	message: string;
	/**
	 * A live reading that the next one supersedes (a throughput line): the console shows only the
	 * latest in place of its spinner, scripts get each as a stderr line.
	 */
	live?: boolean;
};
