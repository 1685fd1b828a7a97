import type {z} from 'zod';
import {sandboxDown} from '../../cli/definitions/sandbox-down.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = sandboxDown.description;
export const options = sandboxDown.options;

type Props = {options: z.infer<typeof options>};

export default function SandboxDown({options}: Props) {
	return <CommandScreen definition={sandboxDown as never} options={options} />;
}
