import type {BackupComponent} from './backup-manifest-types.js';

/**
 * Typed progress of backup, verify and restore. The CLI prints periodic lines on stderr from
 * them; the console will draw progress bars (bytes, rate, ETA) from the same events.
 */
export type BackupEvent =
	| {type: 'backup:step'; message: string}
	| {type: 'artifact:start'; component: BackupComponent; key: string; operation: 'upload' | 'download' | 'verify' | 'restore'; totalBytes: number | null}
	| {
			type: 'artifact:progress';
			component: BackupComponent;
			key: string;
			operation: 'upload' | 'download' | 'verify' | 'restore';
			bytes: number;
			totalBytes: number | null;
			bytesPerSecond: number;
			/** Seconds left, when the total is known. */
			etaSeconds: number | null;
	  }
	| {type: 'artifact:done'; component: BackupComponent; key: string; operation: 'upload' | 'download' | 'verify' | 'restore'; bytes: number; sha256?: string; elapsedMs: number}
	| {type: 'restore:keys'; restored: number; total: number | null};

export type BackupEventListener = (event: BackupEvent) => void;
