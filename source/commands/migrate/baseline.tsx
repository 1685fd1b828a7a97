import type {z} from 'zod';
import {migrateBaseline} from '../../cli/definitions/migrate-baseline.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateBaseline.description;
export const options = migrateBaseline.options;
export const args = migrateBaseline.args;

type Props = {options: z.infer<typeof options>; args: z.infer<typeof args>};

export default function MigrateBaseline({options, args}: Props) {
	return <CommandScreen definition={migrateBaseline as never} options={options} args={args} />;
}
