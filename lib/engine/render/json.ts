import type { RunResult } from '../scheduler.ts'
import type { Change } from '../step.ts'

/** The one document `--json` prints on stdout: the run's outcome, per node, without token material. */
export function jsonSummary(a: {
  workflow: string
  runId: string | undefined
  resumeOf: string | undefined
  dryRun: boolean
  params: Record<string, unknown>
  stateFile: string | undefined
  result: RunResult
  plans: ReadonlyMap<string, Change[]>
}): string {
  const summary = {
    tool: 'credflow',
    workflow: a.workflow,
    runId: a.runId ?? null,
    resumeOf: a.resumeOf ?? null,
    dryRun: a.dryRun,
    status: a.result.status,
    exitCode: a.result.exitCode,
    params: a.params,
    stateFile: a.stateFile ?? null,
    nodes: a.result.instances.map((i) => {
      const s = a.result.nodes[i.id]
      return {
        id: i.id,
        node: i.node.id,
        ...(i.item !== undefined ? { item: i.item } : {}),
        status: s.status,
        attempts: s.attempts,
        durationMs: s.durationMs ?? null,
        reason: s.reason ?? null,
        error: s.error ?? null,
        outputs: s.outputs ?? null,
        ...(a.dryRun ? { changes: a.plans.get(i.id) ?? [] } : {}),
      }
    }),
  }
  return JSON.stringify(summary, null, 2) + '\n'
}

export type RefusalStatus = 'usage-error' | 'invalid' | 'refused' | 'locked'

/**
 * The one document `--json` prints when nothing ran: a usage or validation error (exit 2), a
 * resume refused because the setup changed (exit 2), or another run holding the lock (exit 3).
 */
export function refusalJson(a: { workflow: string | undefined; status: RefusalStatus; exitCode: number; error: string; hint?: string; extra?: Record<string, unknown> }): string {
  return JSON.stringify({ tool: 'credflow', workflow: a.workflow ?? null, status: a.status, exitCode: a.exitCode, error: a.error, hint: a.hint ?? null, ...a.extra }, null, 2) + '\n'
}
