import {useCallback, useState} from 'react';
import type {BackupEvent} from '../../core/backup/backup-events.js';
import type {BackupComponent} from '../../core/backup/backup-manifest-types.js';

type Operation = Extract<BackupEvent, {type: 'artifact:start'}>['operation'];

/** One artifact being uploaded, downloaded, verified or restored, as the last event left it. */
export type TransferState = {
	/** `<operation> <key>`: a restore verifies and then restores the same key, two bars. */
	id: string;
	component: BackupComponent;
	key: string;
	operation: Operation;
	bytes: number;
	totalBytes: number | null;
	bytesPerSecond: number;
	etaSeconds: number | null;
	/** Set by `artifact:done`. */
	elapsedMs: number | null;
};

/** What a backup, verify or restore has reported so far. */
export type BackupProgress = {
	/** `backup:step` messages, oldest first. */
	steps: string[];
	transfers: TransferState[];
	/** Redis keys replayed so far, from `restore:keys`. */
	keys: {restored: number; total: number | null} | null;
};

export const EMPTY_PROGRESS: BackupProgress = {steps: [], transfers: [], keys: null};

/**
 * Folds one core event into the progress the screen draws. Pure, so the same events always draw
 * the same screen; the flows keep the result in React state.
 */
export function foldBackupEvent(progress: BackupProgress, event: BackupEvent): BackupProgress {
	switch (event.type) {
		case 'backup:step': {
			return {...progress, steps: [...progress.steps, event.message]};
		}

		case 'artifact:start': {
			const id = `${event.operation} ${event.key}`;
			const fresh: TransferState = {
				id,
				component: event.component,
				key: event.key,
				operation: event.operation,
				bytes: 0,
				totalBytes: event.totalBytes,
				bytesPerSecond: 0,
				etaSeconds: null,
				elapsedMs: null,
			};
			return {...progress, transfers: [...progress.transfers.filter(transfer => transfer.id !== id), fresh]};
		}

		case 'artifact:progress': {
			return updateTransfer(progress, `${event.operation} ${event.key}`, transfer => ({
				...transfer,
				bytes: event.bytes,
				totalBytes: event.totalBytes,
				bytesPerSecond: event.bytesPerSecond,
				etaSeconds: event.etaSeconds,
			}));
		}

		case 'artifact:done': {
			return updateTransfer(progress, `${event.operation} ${event.key}`, transfer => ({
				...transfer,
				bytes: event.bytes,
				etaSeconds: 0,
				elapsedMs: event.elapsedMs,
			}));
		}

		case 'restore:keys': {
			return {...progress, keys: {restored: event.restored, total: event.total}};
		}
	}
}

function updateTransfer(progress: BackupProgress, id: string, change: (transfer: TransferState) => TransferState): BackupProgress {
	if (!progress.transfers.some(transfer => transfer.id === id)) {
		return progress;
	}

	return {...progress, transfers: progress.transfers.map(transfer => (transfer.id === id ? change(transfer) : transfer))};
}

/**
 * Progress state for one run: `onEvent` goes to the core function as its listener, `reset`
 * clears it before the next run (a restore's verification and the restore itself).
 */
export function useBackupProgress(): {progress: BackupProgress; onEvent: (event: BackupEvent) => void; reset: () => void} {
	const [progress, setProgress] = useState<BackupProgress>(EMPTY_PROGRESS);
	const onEvent = useCallback((event: BackupEvent) => {
		setProgress(previous => foldBackupEvent(previous, event));
	}, []);
	const reset = useCallback(() => {
		setProgress(EMPTY_PROGRESS);
	}, []);
	return {progress, onEvent, reset};
}
