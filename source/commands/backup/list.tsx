import type {z} from 'zod';
import {backupList} from '../../cli/definitions/backup-list.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = backupList.description;
export const options = backupList.options;


type Props = {options: z.infer<typeof options>};

export default function BackupList({options}: Props) {
	return <CommandScreen definition={backupList as never} options={options} />;
}
