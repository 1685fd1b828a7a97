import type {z} from 'zod';
import {backupCreate} from '../../cli/definitions/backup-create.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = backupCreate.description;
export const options = backupCreate.options;


type Props = {options: z.infer<typeof options>};

export default function BackupCreate({options}: Props) {
	return <CommandScreen definition={backupCreate as never} options={options} />;
}
