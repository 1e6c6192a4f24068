// One vocabulary for changes, wherever they are shown: the --dry-run lines, the confirmation,
// and the summary of what a run changed. Symbols as terraform plan draws them.
import type { Change } from '../step.ts'
import { paint, wrap } from './style.ts'

const SYMBOL: Record<string, string> = {
  create: '+', write: '+', replace: '-/+', update: '~', patch: '~', delete: '-', restart: '↻', wait: '…', verify: '?', consent: '!', run: '▸', keep: '=',
}
const COLOR: Record<string, 'green' | 'yellow' | 'red' | 'cyan'> = { '+': 'green', '~': 'yellow', '-/+': 'yellow', '-': 'red', '↻': 'cyan' }

/** "replace Secret ns/name (key k <- file …)": verb, object, and what about it. */
export function changeText(c: Change): string {
  return `${c.verb} ${c.target}${c.detail ? ` (${c.detail})` : ''}`
}

export function changeSymbol(c: Change): string {
  return SYMBOL[c.verb] ?? '•'
}

/**
 * One change with its symbol, indented by `indent` and padded so the verbs line up
 * ("  -/+ replace Secret …"); wrapped under its text when wider than `width`.
 */
export function changeLines(c: Change, indent: number, width?: number): string[] {
  const sym = changeSymbol(c)
  const head = ' '.repeat(indent) + paint(COLOR[sym] ?? 'cyan', sym.padStart(3)) + ' '
  const text = changeText(c)
  if (width === undefined) return [head + text]
  return wrap(text, width - indent - 6).map((l, i) => (i === 0 ? head + l : ' '.repeat(indent + 6) + l))
}

/** Verbs that are not changes to anything (reads, waits): not counted in a plan's summary. */
const READ_ONLY = new Set(['keep', 'wait', 'verify', 'map'])

export function isChange(c: Change): boolean {
  return !READ_ONLY.has(c.verb)
}

/**
 * "1 to replace, 1 to delete, 1 to restart", in the order the verbs first appear, and where:
 * "in context kind-x (server https://…)" for each cluster the changes go to.
 */
export function planSummary(changes: readonly Change[], opts: { made?: boolean } = {}): string {
  const counts = new Map<string, number>()
  for (const c of changes) if (isChange(c)) counts.set(c.verb, (counts.get(c.verb) ?? 0) + 1)
  // Made changes read "1 replace, 1 delete"; planned ones "1 to replace, 1 to delete".
  const what = [...counts].map(([verb, n]) => `${n} ${opts.made ? '' : 'to '}${verb}`).join(', ') || 'no changes'
  const where = [...new Set(changes.flatMap((c) => (c.context ? [c.context] : [])))]
  return where.length ? `${what} in ${where.join(' and ')}` : what
}
