/**
 * The CLI's side of the workflow lock (run-lock.ts): take it for a run, or say how it stands
 * for a dry run and --status.
 */
import { isOpsError } from '../../errors.ts'
import { EXIT } from '../exit-codes.ts'
import { RunLockHeldError, runHolder, workflowLock, type HeldRunLock } from '../run-lock.ts'
import type { NextCommands } from '../command.ts'
import type { Workflow } from '../load.ts'
import { Refusal } from './context.ts'

interface Args {
  wf: Workflow
  params: Record<string, unknown>
  loadStep: (id: string) => Promise<unknown>
  env: NodeJS.ProcessEnv
  stateDir: string
  signal: AbortSignal
  next: NextCommands
}

/** Takes the workflow's lock (none declared: undefined). Held by another run: a Refusal with exit 3; broken: exit 2 or 1. */
export async function holdWorkflowLock(a: Args & { runId: string; notice: (m: string) => void }): Promise<HeldRunLock | undefined> {
  try {
    const lock = await workflowLock(a.wf, a.params, a.loadStep)
    if (!lock) return undefined
    return await lock.def.acquire({ inputs: lock.inputs, signal: a.signal, holder: runHolder(a.env, a.runId, a.stateDir), notice: a.notice, command: (...f) => a.next.resume(...f) })
  } catch (e) {
    if (e instanceof RunLockHeldError) throw new Refusal('locked', EXIT.locked, e.message, `credflow: ${e.message}\nhint: ${e.hint}`, e.hint, { holder: e.holder ?? null })
    const message = e instanceof Error ? e.message : String(e)
    const hint = isOpsError(e) ? e.hint : undefined
    const usage = isOpsError(e) && (e.reason === 'InvalidInputs' || e.reason === 'InvalidWorkflow')
    const error = `cannot take the workflow's lock (${a.wf.lock?.run}): ${message}; nothing was changed`
    throw new Refusal(usage ? 'invalid' : 'refused', usage ? EXIT.usage : EXIT.failed, error, `credflow: ${error}${hint ? `\nhint: ${hint}` : ''}`, hint)
  }
}

/** How the workflow's lock stands, one line each; a failure to look is a line too (read-only callers go on). */
export async function inspectWorkflowLock(a: Args): Promise<string[]> {
  try {
    const lock = await workflowLock(a.wf, a.params, a.loadStep)
    if (!lock) return []
    return await lock.def.inspect({ inputs: lock.inputs, signal: a.signal, holder: runHolder(a.env, undefined, a.stateDir), notice: () => {}, command: (...f) => a.next.resume(...f) })
  } catch (e) {
    return [`cannot look at the workflow's lock (${a.wf.lock?.run}): ${e instanceof Error ? e.message : String(e)}`]
  }
}
