import type {z} from 'zod';
import {sessionsRevoke} from '../../cli/definitions/sessions-revoke.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = sessionsRevoke.description;
export const options = sessionsRevoke.options;
export const args = sessionsRevoke.args;

type Props = {options: z.infer<typeof options>; args: z.infer<typeof args>};

export default function SessionsRevoke({options, args}: Props) {
	return <CommandScreen definition={sessionsRevoke as never} options={options} args={args} />;
}
