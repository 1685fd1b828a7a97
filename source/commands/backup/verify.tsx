import type {z} from 'zod';
import {backupVerify} from '../../cli/definitions/backup-verify.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = backupVerify.description;
export const options = backupVerify.options;
export const args = backupVerify.args;

type Props = {options: z.infer<typeof options>; args: z.infer<typeof args>};

export default function BackupVerify({options, args}: Props) {
	return <CommandScreen definition={backupVerify as never} options={options} args={args} />;
}
