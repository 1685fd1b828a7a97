import type {z} from 'zod';
import {worker} from '../cli/definitions/worker.js';
import {CommandScreen} from '../ui/command-screen.js';

export const description = worker.description;
export const options = worker.options;

type Props = {options: z.infer<typeof options>};

export default function Worker({options}: Props) {
	return <CommandScreen definition={worker as never} options={options} />;
}
