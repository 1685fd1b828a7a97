import type {z} from 'zod';
import {sessionsCount} from '../../cli/definitions/sessions-count.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = sessionsCount.description;
export const options = sessionsCount.options;

type Props = {options: z.infer<typeof options>};

export default function SessionsCount({options}: Props) {
	return <CommandScreen definition={sessionsCount as never} options={options} />;
}
