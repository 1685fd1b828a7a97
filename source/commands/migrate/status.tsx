import type {z} from 'zod';
import {migrateStatus} from '../../cli/definitions/migrate-status.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateStatus.description;
export const options = migrateStatus.options;


type Props = {options: z.infer<typeof options>};

export default function MigrateStatus({options}: Props) {
	return <CommandScreen definition={migrateStatus as never} options={options} />;
}
