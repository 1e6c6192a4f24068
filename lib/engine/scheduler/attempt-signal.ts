import { once } from 'node:events'
import { parseDuration } from '../../duration.ts'
import { Interrupted, TimedOut } from './errors.ts'

/**
 * Runs one attempt under its own signal, aborted by the run's signal (then it rejects with
 * Interrupted) or by the node's timeout (TimedOut), also when the step ignores its signal: the
 * attempt is raced against the abort, so such a step cannot hang the run.
 *
 * A run signal already aborted when the attempt starts does not count: that is a finally node,
 * which always runs. The deadline is a plain setTimeout, not AbortSignal.timeout(): that timer is
 * unref'd, so a step awaiting nothing else would let the process exit instead of timing out.
 * AbortSignal.any() links each attempt's signal to the run's; a run makes a few, not the
 * millions that make that link a leak (nodejs/node#55351).
 */
export async function underAttemptSignal<T>(run: AbortSignal, timeout: string | undefined, fn: (signal: AbortSignal) => Promise<T>, timeoutNote?: () => string): Promise<T> {
  const deadline = new AbortController()
  const timer = timeout ? setTimeout(() => deadline.abort(new TimedOut(`timed out after ${timeout}${timeoutNote?.() ?? ''}`)), parseDuration(timeout)!) : undefined
  const signal = run.aborted ? deadline.signal : AbortSignal.any([run, deadline.signal])
  const settled = new AbortController() // removes the abort listener once the attempt is over
  try {
    return await Promise.race([fn(signal), once(signal, 'abort', { signal: settled.signal }).then(() => Promise.reject(signal.reason))])
  } catch (e) {
    if (!signal.aborted) throw e
    throw deadline.signal.aborted ? deadline.signal.reason : new Interrupted('interrupted')
  } finally {
    clearTimeout(timer)
    settled.abort()
  }
}
