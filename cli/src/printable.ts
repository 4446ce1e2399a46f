// C0 and C1 controls, DEL, line and paragraph separators and bidirectional overrides: a server's
// text holding them could clear the screen, set the clipboard (OSC 52), rewrite a line with CR or
// reorder what the reader sees.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const unprintable = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * Text for a terminal line: every control character shown as its `\u001b` escape, so a server's
 * words (an offer, a refusal reason, a receipt) are read, never run by the terminal.
 */
export function printable(text: string): string {
  return text.replace(unprintable, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
