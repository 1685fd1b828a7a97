import type {z} from 'zod';
import {migrateReset} from '../../cli/definitions/migrate-reset.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateReset.description;
export const options = migrateReset.options;


type Props = {options: z.infer<typeof options>};

export default function MigrateReset({options}: Props) {
	return <CommandScreen definition={migrateReset as never} options={options} />;
}
