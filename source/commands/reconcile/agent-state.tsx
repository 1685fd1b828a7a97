import type {z} from 'zod';
import {reconcileAgentState} from '../../cli/definitions/reconcile-agent-state.js';
import {CommandScreen} from '../../ui/command-screen.js';

export const description = reconcileAgentState.description;
export const options = reconcileAgentState.options;

type Props = {options: z.infer<typeof options>};

export default function ReconcileAgentState({options}: Props) {
	return <CommandScreen definition={reconcileAgentState as never} options={options} />;
}
