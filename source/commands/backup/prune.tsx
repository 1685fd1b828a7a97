import type {z} from 'zod';
import {backupPrune} from '../../cli/definitions/backup-prune.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = backupPrune.description;
export const options = backupPrune.options;


type Props = {options: z.infer<typeof options>};

export default function BackupPrune({options}: Props) {
	return <CommandScreen definition={backupPrune as never} options={options} />;
}
