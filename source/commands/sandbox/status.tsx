import type {z} from 'zod';
import {sandboxStatus} from '../../cli/definitions/sandbox-status.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = sandboxStatus.description;
export const options = sandboxStatus.options;

type Props = {options: z.infer<typeof options>};

export default function SandboxStatus({options}: Props) {
	return <CommandScreen definition={sandboxStatus as never} options={options} />;
}
