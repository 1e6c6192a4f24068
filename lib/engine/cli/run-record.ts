import { EXIT } from '../exit-codes.ts'
import { hostname } from 'node:os'
import { shellQuote } from '../command.ts'
import type { EventBus } from '../events.ts'
import { acquireLock, LockHeldError, type Lock } from '../lock.ts'
import type { RunResult } from '../scheduler.ts'
import { newRunId, newRunState, type RunState } from '../state.ts'
import { Refusal } from './context.ts'
import type { RunSetup } from './prepare-run.ts'
import { holdWorkflowLock } from './workflow-lock.ts'
import { sweepTemps } from '../leftovers.ts'
import type { HeldRunLock } from '../run-lock.ts'

/** A real run's record on disk: its lock and its state document. A dry run has none. */
export interface RunRecord {
  lock: Lock
  state: RunState
  /** The workflow's own lock (a Lease), when it declares one: other hosts, other state directories. */
  runLock?: HeldRunLock
}

/**
 * Take the state directory's lock, then the workflow's own lock, and save the run as running
 * (a resume continues its run id). Throws a Refusal when either is held: nothing is written then.
 */
export async function startRecord(s: RunSetup, bus: EventBus, o: { env: NodeJS.ProcessEnv; signal: AbortSignal }): Promise<RunRecord> {
  const { store, previous, wf } = s
  store.ensure()
  const runId = previous?.runId ?? newRunId()
  let lock: Lock
  try {
    lock = acquireLock(store.workflowDir, runId)
  } catch (e) {
    if (e instanceof LockHeldError) {
      const hint = lockHint(e)
      throw new Refusal('locked', EXIT.locked, e.message, `credflow: ${e.message}\nlock: ${e.path}\nhint: ${hint}`, hint, { lock: e.path, holder: e.holder ?? null })
    }
    throw e
  }
  if (lock.tookOver) bus.emit({ type: 'notice', message: lock.tookOver })
  // Holding the lock, no write of ours is in flight: temps left by a killed one may go.
  const swept = sweepTemps(store.workflowDir)
  if (swept.length) bus.emit({ type: 'notice', message: `removed ${swept.length} temp file(s) left by a write killed halfway: ${swept.map((t) => t.path).join(', ')}` })
  let runLock: HeldRunLock | undefined
  try {
    runLock = await holdWorkflowLock({ wf, params: s.params, loadStep: s.loadStep, env: o.env, runId, stateDir: store.stateDir, signal: o.signal, notice: (message) => bus.emit({ type: 'notice', message }), next: s.next })
  } catch (e) {
    lock.release()
    throw e
  }
  let state: RunState
  if (previous) {
    state = { ...previous, status: 'running', pid: process.pid, resumes: previous.resumes + 1, finishedAt: undefined, workflowHash: wf.hash, definition: wf.definition, params: s.shownParams }
  } else {
    state = newRunState({ workflow: wf.name, file: wf.file, workflowHash: wf.hash, definition: wf.definition, params: s.shownParams })
    state.runId = runId
    state.seq = store.nextSeq()
  }
  store.save(state)
  store.appendEvent(state.runId, { type: 'run-start', mode: s.mode.kind, resumeOf: previous?.runId, pid: process.pid })
  return { lock, state, runLock }
}

/** Save how the run ended, then let the next run in. */
export async function finishRecord(s: RunSetup, record: RunRecord | undefined, result: RunResult): Promise<void> {
  if (!record) return
  const { state, lock } = record
  state.status = result.status
  state.finishedAt = new Date().toISOString()
  s.store.save(state)
  s.store.appendEvent(state.runId, { type: 'run-end', status: result.status, exitCode: result.exitCode })
  await record.runLock?.release()
  lock.release()
}

function lockHint(e: LockHeldError): string {
  const byHand = `once you are sure no run of it is active, the lock file may be removed by hand: rm ${shellQuote(e.path)}`
  if (!e.holder) return byHand
  if (e.holder.host !== hostname()) return `that run is on another host sharing this state directory; wait for it there. If it died, ${byHand}`
  return `wait for it to finish (a lock whose process is gone is taken over automatically); ${byHand}`
}
