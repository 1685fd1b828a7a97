import type {z} from 'zod';
import {sandboxUp} from '../../cli/definitions/sandbox-up.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = sandboxUp.description;
export const options = sandboxUp.options;

type Props = {options: z.infer<typeof options>};

export default function SandboxUp({options}: Props) {
	return <CommandScreen definition={sandboxUp as never} options={options} />;
}
