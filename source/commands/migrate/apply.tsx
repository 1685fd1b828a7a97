import type {z} from 'zod';
import {migrateApply} from '../../cli/definitions/migrate-apply.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateApply.description;
export const options = migrateApply.options;


type Props = {options: z.infer<typeof options>};

export default function MigrateApply({options}: Props) {
	return <CommandScreen definition={migrateApply as never} options={options} />;
}
