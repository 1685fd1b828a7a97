import type {z} from 'zod';
import {metrics} from '../cli/definitions/metrics.js';
import {CommandScreen} from '../ui/command-screen.js';

export const description = metrics.description;
export const options = metrics.options;

type Props = {options: z.infer<typeof options>};

export default function Metrics({options}: Props) {
	return <CommandScreen definition={metrics as never} options={options} />;
}
