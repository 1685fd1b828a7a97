import type {z} from 'zod';
import {cacheStats} from '../../cli/definitions/cache-stats.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = cacheStats.description;
export const options = cacheStats.options;

type Props = {options: z.infer<typeof options>};

export default function CacheStats({options}: Props) {
	return <CommandScreen definition={cacheStats as never} options={options} />;
}
