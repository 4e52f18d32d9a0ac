// Text from the service or from inputs is hostile: a connection name, a description or an error
// message may carry pipeline logging commands, line breaks, markdown or HTML. These functions make
// such text inert for the two places it is written: the job log (read by the agent) and the run
// summary (rendered as markdown). See docs/service-behaviour.md, "Output the agent acts on".

/** Line breaks the agent (and .NET's ReadLine) splits on, plus the Unicode ones a viewer may show as breaks. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f\u0085\u2028\u2029]|\r\n|\r|\n/g;

const visible = (ch: string): string => {
  if (ch === '\r\n') return '\\r\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\n') return '\\n';
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
};

/**
 * One log line that the agent cannot read as a command: line breaks and other control characters
 * become visible escapes (`\r`, `\n`, `\u001b`), so no text from the service starts a new line, and
 * `##vso[` becomes `##vso%5B` (the bracket percent-encoded, in the style of the logging-command escapes), because the agent
 * acts on `##vso[` anywhere in a line. The task's own messages contain neither, so whole rendered
 * lines can be passed through.
 */
export function logSafe(text: string): string {
  return text.replace(CONTROL, visible).replace(/##vso\[/gi, (m) => `${m.slice(0, 5)}%5B`);
}

/**
 * Plain text inside markdown (a table cell, a paragraph): every character that markdown or HTML
 * could read as syntax is escaped, line breaks become spaces (a table row must stay one line), and
 * URLs get their `:` (before `//`) or `.` (after `www`) escaped and `@` is escaped, so GitHub-flavoured markdown
 * does not turn them (or an e-mail address) into links.
 */
export function mdText(text: string | undefined): string {
  return (text ?? '')
    .replace(CONTROL, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/:\/\//g, '\\://')
    .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}\\.`)
    .replace(/@/g, '\\@');
}

/**
 * A value shown verbatim (issuer, subject, ids) as inline code: backticks cannot be escaped inside a
 * code span, so they are replaced; a pipe is escaped (tables split on it even inside code); line breaks
 * become spaces. Code spans show `<script>` as text, so no HTML escaping is needed (or wanted) here.
 */
export function mdCode(text: string | undefined): string {
  if (!text) return '';
  const inner = text.replace(CONTROL, ' ').replace(/`/g, "'").replace(/\|/g, '\\|');
  return '`' + inner + '`';
}

/**
 * Text inside an HTML element of the summary (`<summary>` of a collapsed project): markdown is not
 * rendered there, so only HTML is escaped (a backslash escape would show); line breaks become spaces.
 */
export function htmlText(text: string | undefined): string {
  return (text ?? '').replace(CONTROL, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
