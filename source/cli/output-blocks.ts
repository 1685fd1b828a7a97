/**
 * What a command shows a person, as data: the plain-text renderer (scripts, pipes) and the Ink
 * renderer (a terminal) draw the same blocks, so the two faces cannot disagree.
 */

export type Tone = 'success' | 'warning' | 'error' | 'muted' | 'info';

export type OutputBlock =
	| {kind: 'text'; text: string; tone?: Tone}
	| {kind: 'table'; columns: string[]; rows: string[][]; tones?: Array<Tone | undefined>}
	| {kind: 'code'; title?: string; text: string};

export const text = (value: string, tone?: Tone): OutputBlock => (tone ? {kind: 'text', text: value, tone} : {kind: 'text', text: value});

export const table = (columns: string[], rows: string[][], tones?: Array<Tone | undefined>): OutputBlock =>
	tones ? {kind: 'table', columns, rows, tones} : {kind: 'table', columns, rows};

export const code = (value: string, title?: string): OutputBlock => (title ? {kind: 'code', title, text: value} : {kind: 'code', text: value});

/** Pads table cells into aligned columns (shared by both renderers). */
export function layoutTable(columns: string[], rows: string[][]): string[] {
	const widths = columns.map((column, index) => Math.max(column.length, ...rows.map(row => (row[index] ?? '').length)));
	const format = (cells: string[]) =>
		cells
			.map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
			.join('  ')
			.trimEnd();
	return [format(columns), ...rows.map(row => format(row))];
}

/** Renders blocks as plain text (no colours), for pipes, files and CI logs. */
export function renderPlainText(blocks: OutputBlock[]): string {
	const parts: string[] = [];
	for (const block of blocks) {
		switch (block.kind) {
			case 'text': {
				parts.push(block.text);
				break;
			}

			case 'table': {
				parts.push(layoutTable(block.columns, block.rows).join('\n'));
				break;
			}

			case 'code': {
				const body = block.text.replace(/\n$/, '');
				parts.push(block.title ? `${block.title}\n${indent(body)}` : indent(body));
				break;
			}
		}
	}

	return parts.length > 0 ? `${parts.join('\n')}\n` : '';
}

function indent(value: string): string {
	return value
		.split('\n')
		.map(line => (line === '' ? '' : `    ${line}`))
		.join('\n');
}
