/**
 * Text as PostgreSQL can store it. Its text and jsonb types refuse U+0000
 * (22021, 22P05), and jsonb refuses a lone UTF-16 surrogate such as "\ud800"
 * (22P02); text from upstreams and processors (an error body, a page title,
 * a thrown message) may hold either, and one such row would fail the whole
 * statement it rides in, and every retry of it. So every text bound for a
 * column passes here first: both are replaced with U+FFFD (the Unicode
 * replacement character, which says something was there), and plain text
 * is cut to a length.
 */

/** Longer texts are cut here unless the caller says otherwise: enough for any message, small enough for any row. */
export const MAX_STORED_TEXT = 10_000;

/** U+0000, and a lone surrogate (a high one not followed by a low one, or a low one not preceded by a high one). */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The same, to test (a global regular expression would keep state between tests). */
const HOLDS_UNSTORABLE = new RegExp(UNSTORABLE.source);

/** Whether the text holds nothing storableText would replace: what an input must be to be taken as it is. */
export function isStorable(text: string): boolean {
  return !HOLDS_UNSTORABLE.test(text);
}

/** The text with NUL and lone surrogates replaced, cut after `max` UTF-16 units (an ellipsis ends a cut one). */
export function storableText(text: string, max = MAX_STORED_TEXT): string {
  let clean = text.replace(UNSTORABLE, "\uFFFD");
  // A cut may leave half a pair at its end: the end is cleaned again.
  if (clean.length > max) clean = `${clean.slice(0, max)}…`.replace(UNSTORABLE, "\uFFFD");
  return clean;
}

/**
 * JSON's escapes, read left to right: an escaped backslash (so the `u` after
 * it is plain text), a surrogate pair, a lone high or low surrogate, NUL.
 * JSON.stringify writes NUL and lone surrogates only as such escapes.
 */
const JSON_ESCAPES = /\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u0000/g;

/** A JSON document's text with every NUL and lone surrogate (in strings and keys alike) replaced: what is bound as jsonb. */
export function storableJsonText(json: string): string {
  if (!json.includes("\\u")) return json;
  return json.replace(JSON_ESCAPES, (escape, low: string | undefined) => {
    if (escape === "\\\\" || low !== undefined) return escape;
    return "\\ufffd";
  });
}

/** A JSON value as storableJsonText makes it (the same value when nothing needed replacing). */
export function storableJson<T>(value: T): T {
  const json = JSON.stringify(value);
  if (json === undefined) return value;
  const clean = storableJsonText(json);
  return clean === json ? value : (JSON.parse(clean) as T);
}
