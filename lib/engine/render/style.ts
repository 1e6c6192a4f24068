// The one place that decides whether output is coloured, and how wide it may be. Every
// renderer paints through paint(), so NO_COLOR, --no-color and TERM=dumb hold everywhere.
import { styleText } from 'node:util'

type Format = Parameters<typeof styleText>[0]

let enabled = false

/**
 * Colour only on a terminal that can show it, and never when the operator said no
 * (https://no-color.org: NO_COLOR set to anything non-empty; --no-color; TERM=dumb).
 * listr2 (through colorette) reads NO_COLOR itself, so --no-color is also put in the
 * environment, for it and for child processes (gmail-mcp) that honour the same convention.
 */
export function decideColor(a: { stream: { isTTY?: boolean }; env: NodeJS.ProcessEnv; noColor: boolean }): boolean {
  enabled = Boolean(a.stream.isTTY) && !a.noColor && !a.env.NO_COLOR && a.env.TERM !== 'dumb'
  if (a.noColor && !process.env.NO_COLOR) process.env.NO_COLOR = '1'
  return enabled
}

export function colorOn(): boolean {
  return enabled
}

/**
 * How many columns output to `stream` may use: a terminal's width, or undefined for a pipe, a
 * file, or a pseudo-terminal that reports no size (act, some CI runners): lines left whole.
 */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number }): number | undefined {
  return stream.isTTY && (stream.columns ?? 0) > 0 ? stream.columns : undefined
}

/** `text` in `format` when colour is on, else as is. */
export function paint(format: Format, text: string): string {
  // validateStream: false, because the switch above already judged the stream (stderr or stdout).
  return enabled ? styleText(format, text, { validateStream: false }) : text
}

/** `s` without SGR sequences: for files (the transcript). */
export function stripStyle(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, '')
}

/** Display width of a line: escape sequences take no columns. */
export function visibleWidth(s: string): number {
  return [...s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')].length
}

/**
 * Word-wraps `text` to `width` columns; words longer than a line (URLs, paths) are cut.
 * Never returns a line wider than `width`.
 */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(8, width)
  const out: string[] = []
  for (const para of text.split('\n')) {
    // A line that fits is left exactly as it is (spacing included); one that does not keeps its indent.
    if ([...para].length <= w) {
      out.push(para)
      continue
    }
    const indent = /^ */.exec(para)![0]
    let line = ''
    for (let word of para.trimStart().split(/ +/)) {
      while ([...word].length > w) {
        if (line) (out.push(line), (line = ''))
        out.push([...word].slice(0, w).join(''))
        word = [...word].slice(w).join('')
      }
      if (!line) line = indent + word
      else if ([...line].length + 1 + [...word].length <= w) line += ' ' + word
      else (out.push(line), (line = indent + word))
    }
    out.push(line)
  }
  return out
}

/** `text` cut to `width` columns, with an ellipsis when something was cut. */
export function clip(text: string, width: number): string {
  const chars = [...text]
  return chars.length <= width ? text : chars.slice(0, Math.max(0, width - 1)).join('') + '…'
}

/** Shell words of a command as shellQuote writes them (single quotes, '\'' inside): quotes kept. */
function shellWords(cmd: string): string[] {
  const words: string[] = []
  let cur = ''
  let quoted = false
  for (const ch of cmd) {
    if (ch === "'") quoted = !quoted
    if (ch === ' ' && !quoted) {
      if (cur) words.push(cur)
      cur = ''
    } else cur += ch
  }
  if (cur) words.push(cur)
  return words
}

/**
 * A command to paste, fitted to `width`: whole on one line when it fits, else broken between
 * words with a trailing backslash, so a paste still runs it as one command. A newline inside
 * a word would run half a command; the terminal's own wrap is never relied on.
 */
export function commandLines(cmd: string, width: number, indent = '  '): string[] {
  if (visibleWidth(indent + cmd) <= width) return [indent + cmd]
  const lines: string[] = []
  let line = indent
  for (const word of shellWords(cmd)) {
    const lead = lines.length ? indent + '  ' : indent
    if (line.trim() && visibleWidth(line + ' ' + word + ' \\') > width) {
      lines.push(line + ' \\')
      line = indent + '  ' + word
    } else line = line.trim() ? `${line} ${word}` : lead + word
  }
  lines.push(line)
  return lines
}

/**
 * "label: command", on one line when it fits (or when there is no terminal width), else the
 * label wrapped, with `after` (a remark about the command) moved before the colon, and the
 * command below it.
 */
export function labelled(label: string, cmd: string, width: number | undefined, after = ''): string {
  const one = `${label}${cmd}${after}`
  if (width === undefined || visibleWidth(one) <= width) return one
  const head = `${label.replace(/:?\s*$/, '')}${after ? ` ${after.trim()}` : ''}:`
  return [...wrap(head, width), ...commandLines(cmd, width)].join('\n')
}
