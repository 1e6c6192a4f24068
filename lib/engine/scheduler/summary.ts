import { EXIT } from '../exit-codes.ts'
import { SATISFIED, type NodeStatus, type RunStatus } from '../events.ts'

/**
 * The exit code answers for what this invocation ran (--only runs one node); the run's status
 * answers for the whole workflow, so a resume knows whether anything is left.
 */
export function summarise(a: { ran: NodeStatus[]; all: NodeStatus[]; aborted: boolean; dryRun: boolean; unconfirmed?: boolean }): { status: RunStatus; exitCode: number } {
  const bad = (s: NodeStatus) => s === 'failed' || s === 'blocked'
  // `unconfirmed`: every failure is a confirmation no terminal could give: refused before any change (2).
  const exitCode = a.ran.includes('interrupted') || a.aborted ? EXIT.interrupted : a.unconfirmed ? EXIT.usage : a.ran.some(bad) ? EXIT.failed : EXIT.ok
  const status: RunStatus = exitCode === EXIT.interrupted ? 'interrupted' : a.all.some(bad) ? 'failed' : a.dryRun ? 'planned' : a.all.every((s) => SATISFIED.has(s)) ? 'succeeded' : 'incomplete'
  return { status, exitCode }
}
