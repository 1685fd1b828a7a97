import type {z} from 'zod';
import {migrateRollback} from '../../cli/definitions/migrate-rollback.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateRollback.description;
export const options = migrateRollback.options;


type Props = {options: z.infer<typeof options>};

export default function MigrateRollback({options}: Props) {
	return <CommandScreen definition={migrateRollback as never} options={options} />;
}
