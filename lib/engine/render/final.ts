// What every run ends with, on a terminal or not, and what its transcript ends with: a static
// record that stays in the scrollback after the live view is gone. The node table, what the
// run changed (fingerprints only), the verdict with wall-clock times, the run id, where its
// state and transcript are, and the command to run next.
import { formatDuration } from '../../duration.ts'
import type { RunResult } from '../scheduler.ts'
import type { NextCommands } from '../command.ts'
import type { Change } from '../step.ts'
import { summaryTable } from './summary.ts'
import { changeLines, isChange, planSummary } from './changes.ts'
import { labelled, paint, wrap } from './style.ts'

export interface FinalArgs {
  result: RunResult
  dryRun: boolean
  /** The changes each node planned (a dry run): the Plan line. */
  plans: ReadonlyMap<string, Change[]>
  runId?: string
  stateFile?: string
  transcript?: string
  startedAt: Date
  finishedAt: Date
  next: NextCommands
  /** Terminal columns; undefined for a pipe or a file (lines left whole). */
  width?: number
}

/** "2026-12-03 09:30:09 UTC": wall-clock, as cron logs and the operator's notes have it. */
export function clock(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
}

export function finalSummary(a: FinalArgs): string {
  const { result, width } = a
  const order = result.instances.map((i) => i.id)
  const prose = (s: string) => (width === undefined ? [s] : wrap(s, width))
  const out: string[] = ['', summaryTable(order, result.nodes, { width }).trimEnd(), '']
  const took = `${clock(a.startedAt)} → ${clock(a.finishedAt).slice(11)} (${formatDuration(a.finishedAt.getTime() - a.startedAt.getTime())})`
  if (a.dryRun) {
    const planned = order.flatMap((id) => a.plans.get(id) ?? [])
    if (planned.length || result.exitCode === 0) out.push(...prose(`${paint('bold', 'Plan:')} ${planSummary(planned)}`))
    out.push(
      result.exitCode === 0
        ? labelled('dry run: nothing was changed and no state was written. Apply with: ', a.next.fresh(), width)
        : labelled('dry run: nothing was changed and no state was written; a check, plan or probe failed. Fix the cause above, then check again: ', a.next.fresh('--dry-run'), width),
    )
    return out.join('\n') + '\n'
  }
  const changed = order.flatMap((id) => result.nodes[id]?.changes ?? []).filter(isChange)
  if (changed.length) {
    out.push(`${paint('bold', 'Changed:')} ${planSummary(changed, { made: true })}`)
    for (const c of changed) out.push(...changeLines(c, 2, width))
  } else out.push(result.declined.length ? 'Changed: nothing (not confirmed)' : 'Changed: nothing')
  const verdict = result.declined.length ? 'not confirmed, nothing changed' : result.status
  out.push(...prose(`${paint('bold', 'Verdict:')} ${paint(result.exitCode === 0 ? 'green' : 'red', verdict)} (exit ${result.exitCode}), run ${a.runId ?? '-'}, ${took}`))
  if (a.stateFile) out.push(...prose(`State:      ${a.stateFile}`))
  if (a.transcript) out.push(...prose(`Transcript: ${a.transcript}`))
  if (result.status !== 'succeeded') out.push(nextStep(result, a.next, width))
  return out.join('\n') + '\n'
}

/** What to run after a run that did not succeed: a step's own hint wins when it names how to rerun. */
function nextStep(result: RunResult, next: NextCommands, width: number | undefined): string {
  const nodes = Object.values(result.nodes)
  if (result.declined.length) return labelled('next: when the plan is right, apply it (keeps what succeeded): ', next.resume('--resume'), width)
  if (result.exitCode === 2 && nodes.some((n) => n.error?.reason === 'NeedsConfirmation')) {
    return labelled('next: see the plan first with --dry-run, then apply without asking: ', next.resume('--resume', '--yes'), width)
  }
  const hints = nodes.flatMap((n) => (n.error?.hint && /--(from|only|resume)\b/.test(n.error.hint) ? [n.error.hint] : []))
  if (hints.length) return 'next: follow the hint above'
  const resume = next.resume('--resume')
  if (result.status === 'interrupted' || result.status === 'incomplete') return labelled('next: continue with ', resume, width)
  if (result.exitCode === 0) return labelled('next: the nodes run now succeeded; the rest of the run needs ', resume, width)
  return labelled('next: fix the cause above, then ', resume, width, ' (keeps what succeeded)')
}
