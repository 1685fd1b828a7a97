import {useEffect, useState} from 'react';
import type {DashboardFeed, DashboardSnapshot} from '../../core/console/dashboard-snapshot.js';

/**
 * Shortest time between two data renders, as a share of the refresh interval. Each source
 * reports on its own schedule (PostgreSQL, Redis and the fleet drift apart), so rendering every
 * report would draw the screen three times per interval; drawing at most about once per interval
 * costs a third of the CPU and shows data at most three quarters of an interval late.
 */
const FRAME_SHARE_OF_INTERVAL = 0.75;

/**
 * The feed's latest snapshot for rendering. Data updates are rate-limited (see
 * FRAME_SHARE_OF_INTERVAL); what a key changed (paused, the interval) shows at once.
 */
export function useDashboard(feed: DashboardFeed): DashboardSnapshot {
	const [snapshot, setSnapshot] = useState(feed.latest);
	useEffect(() => {
		let shown = feed.latest;
		let shownAt = Number.NEGATIVE_INFINITY;
		let timer: NodeJS.Timeout | undefined;
		const show = () => {
			clearTimeout(timer);
			timer = undefined;
			shown = feed.latest;
			shownAt = performance.now();
			setSnapshot(shown);
		};

		const unsubscribe = feed.subscribe(next => {
			if (next.paused !== shown.paused || next.intervalMs !== shown.intervalMs) {
				show();
				return;
			}

			if (timer !== undefined) {
				return;
			}

			const wait = shownAt + next.intervalMs * FRAME_SHARE_OF_INTERVAL - performance.now();
			if (wait <= 0) {
				show();
			} else {
				timer = setTimeout(show, wait);
			}
		});
		// A snapshot emitted between the first render and this effect is not lost.
		show();
		return () => {
			unsubscribe();
			clearTimeout(timer);
		};
	}, [feed]);
	return snapshot;
}
