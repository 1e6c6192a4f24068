import { parseDuration } from '../../duration.ts'
import { Interrupted, TimedOut } from './errors.ts'

/** Rejects when `signal` aborts, so a step that ignores its signal cannot hang the run. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    )
  })
}

/**
 * Runs one attempt under its own signal, aborted by the run's signal (Interrupted) or the node's
 * timeout (TimedOut); a rejection is that reason once the signal aborted. A run signal already
 * aborted when the attempt starts does not abort it: that is a finally node, which always runs.
 */
export async function underAttemptSignal<T>(run: AbortSignal, timeout: string | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController()
  const onRunAbort = () => ctl.abort(new Interrupted('interrupted'))
  run.addEventListener('abort', onRunAbort, { once: true })
  const timer = timeout ? setTimeout(() => ctl.abort(new TimedOut(`timed out after ${timeout}`)), parseDuration(timeout)!) : undefined
  try {
    return await raceAbort(fn(ctl.signal), ctl.signal)
  } catch (e) {
    throw ctl.signal.aborted ? ctl.signal.reason : e
  } finally {
    clearTimeout(timer)
    run.removeEventListener('abort', onRunAbort)
  }
}
