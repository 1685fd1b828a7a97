import {Box, Text, useInput} from 'ink';
import {useRef, useState} from 'react';
import {KeyFooter} from './key-footer.js';

/** Props of {@link TypedConfirmation}. */
export type TypedConfirmationProps = {
	/** The text the person must type exactly (a database name, `apply`, `rollback` …). */
	expected: string;
	/** What is about to happen and why typing is asked for. */
	prompt: string;
	onConfirm: () => void;
	onCancel: () => void;
	/** False while another part of the screen owns the keys. */
	isActive?: boolean;
	/** Whether to draw its own key footer; false when the screen draws one for it. */
	showFooter?: boolean;
};

/**
 * The gate in front of a destructive step (Shopify cli-kit's DangerousConfirmationPrompt): the
 * person types `expected` in full and presses enter. Enter on anything else only says it does not
 * match, so a stray enter or a half-typed name can never confirm; esc cancels.
 */
export function TypedConfirmation({expected, prompt, onConfirm, onCancel, isActive = true, showFooter = true}: TypedConfirmationProps) {
	const [typed, setTyped] = useState('');
	// The keys handled so far, updated as each arrives: enter right after the last character (a
	// paste, fast typing) can come before React re-renders, and must see that character.
	const typedRef = useRef('');
	const update = (next: string) => {
		typedRef.current = next;
		setTyped(next);
	};

	const [mismatch, setMismatch] = useState(false);
	// onConfirm/onCancel fire once: a second enter while the parent is switching screens must not
	// start the destructive step twice. A ref, because two keys can arrive before a re-render.
	const settled = useRef(false);

	useInput(
		(input, key) => {
			if (settled.current) {
				return;
			}

			if (key.escape) {
				settled.current = true;
				onCancel();
				return;
			}

			if (key.return) {
				if (typedRef.current === expected) {
					settled.current = true;
					onConfirm();
				} else {
					setMismatch(true);
				}

				return;
			}

			// Terminals send DEL (0x7f) for the backspace key, which Ink reports as `delete`.
			if (key.backspace || key.delete) {
				update(typedRef.current.slice(0, -1));
				setMismatch(false);
				return;
			}

			if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) {
				return;
			}

			// A paste arrives as one string; keep its printable characters only.
			const printable = [...input].filter(character => character >= ' ' && character !== '\u007F').join('');
			if (printable !== '') {
				update(typedRef.current + printable);
				setMismatch(false);
			}
		},
		{isActive},
	);

	const matches = typed === expected;
	return (
		<Box flexDirection="column">
			<Text>{prompt}</Text>
			<Text>
				Type <Text bold color="red">{expected}</Text> and press enter to confirm.
			</Text>
			<Box>
				<Text color="cyan">{'> '}</Text>
				<Text color={matches ? 'green' : undefined}>{typed}</Text>
				<Text inverse> </Text>
			</Box>
			{mismatch ? (
				<Text color="yellow">
					“{typed}” does not match “{expected}”: nothing was done. Correct it, or press esc to cancel.
				</Text>
			) : undefined}
			{showFooter ? (
				<KeyFooter
					keys={[
						{key: 'enter', label: matches ? 'confirm' : 'confirm (needs the exact text)'},
						{key: 'backspace', label: 'erase'},
						{key: 'esc', label: 'cancel'},
					]}
				/>
			) : undefined}
		</Box>
	);
}
