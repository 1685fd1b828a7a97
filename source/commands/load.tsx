import type {z} from 'zod';
import {load} from '../cli/definitions/load.js';
import {CommandScreen} from '../ui/command-screen.js';

export const description = load.description;
export const options = load.options;

type Props = {options: z.infer<typeof options>};

export default function Load({options}: Props) {
	return <CommandScreen definition={load as never} options={options} />;
}
