import {Box} from 'ink';
import {KeyFooter} from '../components/key-footer.js';
import {SqlView} from '../components/sql-view.js';

/** Props of {@link SqlPage}. */
export type SqlPageProps = {
	sql: string;
	title: string;
	/** The flow's height: the page takes all of it but the footer. */
	height: number;
	/** What esc goes back to, e.g. `back to the list`; the flow handles the key. */
	backLabel: string;
};

/**
 * One migration's SQL on the whole screen, scrollable, as the migrate and roll-back flows show it
 * from their plan (enter): a long migration is read in full before it is confirmed.
 */
export function SqlPage({sql, title, height, backLabel}: SqlPageProps) {
	return (
		<Box flexDirection="column">
			<SqlView sql={sql} title={title} height={Math.max(5, height - 2)} scrollable />
			<KeyFooter
				keys={[
					{key: '↑↓ j k', label: 'scroll'},
					{key: 'pgup pgdn', label: 'page'},
					{key: 'g G', label: 'top / end'},
					{key: 'esc', label: backLabel},
				]}
			/>
		</Box>
	);
}
