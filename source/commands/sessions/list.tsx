import type {z} from 'zod';
import {sessionsList} from '../../cli/definitions/sessions-list.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = sessionsList.description;
export const options = sessionsList.options;
export const args = sessionsList.args;

type Props = {options: z.infer<typeof options>; args: z.infer<typeof args>};

export default function SessionsList({options, args}: Props) {
	return <CommandScreen definition={sessionsList as never} options={options} args={args} />;
}
