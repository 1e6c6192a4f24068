import { EXIT } from '../exit-codes.ts'
import { SATISFIED, type NodeStatus, type RunStatus } from '../events.ts'

/** What every failure of the run waits for, when none is a real error: a confirmation no terminal could give, or a person (consent). */
export type WaitingFor = 'confirmation' | 'operator'

/**
 * The exit code answers for what this invocation ran (--only runs one node); the run's status
 * answers for the whole workflow, so a resume knows whether anything is left.
 */
export function summarise(a: { ran: NodeStatus[]; all: NodeStatus[]; aborted: boolean; dryRun: boolean; waitingFor?: WaitingFor }): { status: RunStatus; exitCode: number } {
  const bad = (s: NodeStatus) => s === 'failed' || s === 'blocked'
  // Every failure a confirmation no terminal could give: refused before any change (2). Every
  // failure a step that needs a person (consent), with no real error beside it: 4, which a
  // scheduler turns into "page a human", distinct from a broken run (1).
  const waiting = a.waitingFor === 'confirmation' ? EXIT.usage : a.waitingFor === 'operator' ? EXIT.needsOperator : undefined
  const exitCode = a.ran.includes('interrupted') || a.aborted ? EXIT.interrupted : waiting !== undefined ? waiting : a.ran.some(bad) ? EXIT.failed : EXIT.ok
  const status: RunStatus = exitCode === EXIT.interrupted ? 'interrupted' : a.all.some(bad) ? 'failed' : a.dryRun ? 'planned' : a.all.every((s) => SATISFIED.has(s)) ? 'succeeded' : 'incomplete'
  return { status, exitCode }
}
