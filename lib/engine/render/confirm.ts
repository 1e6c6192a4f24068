// The confirmation, as terraform apply asks it: the whole plan (every change this "y" allows,
// not just the node that asks), one summary line naming where the changes go, and a prompt
// that names the cluster again, so a wrong context is caught before anything changes.
import type { Change } from '../step.ts'
import { changeLines, isChange, planSummary } from './changes.ts'
import { paint, wrap, visibleWidth } from './style.ts'

/** One node's part of the plan: its changes, or why none can be stated. */
export interface PlannedNode {
  id: string
  changes: Change[]
  /** e.g. "already done", "inputs known after update-secret". */
  note?: string
  /** Its plan failed: said in the confirmation, so "y" is not given blind. */
  problem?: string
}

/** Lines wider than `width` wrap with a hanging indent; undefined: no terminal, left whole. */
function fitLine(line: string, width: number | undefined, indent: number): string[] {
  if (width === undefined || visibleWidth(line) <= width) return [line]
  const lead = line.slice(0, indent)
  return wrap(line.slice(indent), width - indent - 2).map((l, i) => (i === 0 ? lead + l : ' '.repeat(indent + 2) + l))
}

/** The question: plan, summary, prompt. `width` is the terminal's columns. */
export function confirmText(plan: readonly PlannedNode[], width?: number): string {
  const all = plan.flatMap((p) => p.changes)
  const lines: string[] = ['', paint('bold', 'This run will make these changes:')]
  for (const p of plan) {
    lines.push(...fitLine(`  ${p.id}${p.note ? `: ${p.note}` : ''}`, width, 2))
    for (const c of p.changes) lines.push(...changeLines(c, 4, width))
    if (p.problem) lines.push(...fitLine(`    ${paint('red', '✖ its plan failed:')} ${p.problem}`, width, 6))
  }
  lines.push('', ...fitLine(`${paint('bold', 'Plan:')} ${planSummary(all)}`, width, 0))
  const contexts = [...new Set(all.flatMap((c) => (c.context ? [/^context (\S+)/.exec(c.context)?.[1] ?? c.context] : [])))]
  const problems = plan.filter((p) => p.problem).length
  if (problems) lines.push(...fitLine(paint('red', `${problems} node(s) could not state their plan (see above): they may fail after the changes before them are made.`), width, 0))
  const n = all.filter(isChange).length
  const question = `Apply ${n === 1 ? 'this change' : `these ${n} changes`}${contexts.length ? ` to context ${contexts.join(' and ')}` : ''}? [y/N] `
  return lines.join('\n') + '\n' + question
}
