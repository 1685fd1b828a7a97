import type {z} from 'zod';
import {migrateValidate} from '../../cli/definitions/migrate-validate.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateValidate.description;
export const options = migrateValidate.options;


type Props = {options: z.infer<typeof options>};

export default function MigrateValidate({options}: Props) {
	return <CommandScreen definition={migrateValidate as never} options={options} />;
}
