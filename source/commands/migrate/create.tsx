import type {z} from 'zod';
import {migrateCreate} from '../../cli/definitions/migrate-create.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateCreate.description;
export const options = migrateCreate.options;
export const args = migrateCreate.args;

type Props = {options: z.infer<typeof options>; args: z.infer<typeof args>};

export default function MigrateCreate({options, args}: Props) {
	return <CommandScreen definition={migrateCreate as never} options={options} args={args} />;
}
