import type {z} from 'zod';
import {restore} from '../cli/definitions/restore.js';
import {CommandScreen} from '../ui/command-screen.js';

export const description = restore.description;
export const options = restore.options;
export const args = restore.args;

type Props = {options: z.infer<typeof options>; args: z.infer<typeof args>};

export default function Restore({options, args}: Props) {
	return <CommandScreen definition={restore as never} options={options} args={args} />;
}
