import { EXIT } from '../exit-codes.ts'
import { hostname } from 'node:os'
import { shellQuote } from '../command.ts'
import type { EventBus } from '../events.ts'
import { acquireLock, LockHeldError, type Lock } from '../lock.ts'
import type { RunResult } from '../scheduler.ts'
import { newRunId, newRunState, type RunState } from '../state.ts'
import { Refusal } from './context.ts'
import type { RunSetup } from './prepare-run.ts'

/** A real run's record on disk: its lock and its state document. A dry run has none. */
export interface RunRecord {
  lock: Lock
  state: RunState
}

/** Take the workflow's lock and save the run as running (a resume continues its run id). Throws a Refusal when locked. */
export function startRecord(s: RunSetup, bus: EventBus): RunRecord {
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
  let state: RunState
  if (previous) {
    state = { ...previous, status: 'running', pid: process.pid, resumes: previous.resumes + 1, finishedAt: undefined, workflowHash: wf.hash, definition: wf.definition, params: s.shownParams }
  } else {
    state = newRunState({ workflow: wf.name, file: wf.file, workflowHash: wf.hash, definition: wf.definition, params: s.shownParams })
    state.runId = runId
  }
  store.save(state)
  store.appendEvent(state.runId, { type: 'run-start', mode: s.mode.kind, resumeOf: previous?.runId, pid: process.pid })
  return { lock, state }
}

/** Save how the run ended, then let the next run in. */
export function finishRecord(s: RunSetup, record: RunRecord | undefined, result: RunResult): void {
  if (!record) return
  const { state, lock } = record
  state.status = result.status
  state.finishedAt = new Date().toISOString()
  s.store.save(state)
  s.store.appendEvent(state.runId, { type: 'run-end', status: result.status, exitCode: result.exitCode })
  lock.release()
}

function lockHint(e: LockHeldError): string {
  const byHand = `once you are sure no run of it is active, the lock file may be removed by hand: rm ${shellQuote(e.path)}`
  if (!e.holder) return byHand
  if (e.holder.host !== hostname()) return `that run is on another host sharing this state directory; wait for it there. If it died, ${byHand}`
  return `wait for it to finish (a lock whose process is gone is taken over automatically); ${byHand}`
}
