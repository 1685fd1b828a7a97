import type {z} from 'zod';
import {health} from '../cli/definitions/health.js';
import {CommandScreen} from '../ui/command-screen.js';

export const description = health.description;
export const options = health.options;

type Props = {options: z.infer<typeof options>};

export default function Health({options}: Props) {
	return <CommandScreen definition={health as never} options={options} />;
}
