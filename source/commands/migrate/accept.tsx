import type {z} from 'zod';
import {migrateAccept} from '../../cli/definitions/migrate-accept.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = migrateAccept.description;
export const options = migrateAccept.options;
export const args = migrateAccept.args;

type Props = {options: z.infer<typeof options>; args: z.infer<typeof args>};

export default function MigrateAccept({options, args}: Props) {
	return <CommandScreen definition={migrateAccept as never} options={options} args={args} />;
}
