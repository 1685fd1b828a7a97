import type {z} from 'zod';
import {migrateDrift} from '../../cli/definitions/migrate-drift.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateDrift.description;
export const options = migrateDrift.options;


type Props = {options: z.infer<typeof options>};

export default function MigrateDrift({options}: Props) {
	return <CommandScreen definition={migrateDrift as never} options={options} />;
}
