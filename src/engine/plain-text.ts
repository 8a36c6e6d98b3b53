/**
 * Characters that make text shown in a terminal or a dashboard do something
 * else than read: C0 and C1 controls (ANSI escapes that clear a screen or
 * rename a window, NUL, bells) and the bidirectional overrides and isolates
 * that make text read as something other than it is.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const LINE_BREAKS = /[\t\n\r]/g;

/** Text as it may be shown: controls dropped, line breaks kept (a comment's paragraphs), or with `oneLine`, every run of white space one space (a title). */
export function plainText(text: string, options: { oneLine?: boolean } = {}): string {
  const clean = text.replace(CONTROL, " ");
  return options.oneLine ? clean.replace(LINE_BREAKS, " ").replace(/\s+/g, " ").trim() : clean.replace(/[ \t]+\n/g, "\n").trim();
}
