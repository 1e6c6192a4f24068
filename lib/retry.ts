import { setTimeout as sleep } from 'node:timers/promises'

/**
 * The one retry policy of credflow, for the Google and Kubernetes clients and for workflow nodes
 * (`retry:` in a workflow): `attempts` in all, waiting `backoffMs` before the second, doubling
 * after each. No jitter: one operator's run, not a fleet stampeding a server.
 */
export interface RetryPolicy {
  attempts: number
  backoffMs: number
}

/** The clients' policy for one idempotent call: about 1.5 s of waiting in all. */
export const CLIENT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 500 }

export interface RetryOptions extends RetryPolicy {
  /** Whether a later attempt can cure this failure. */
  retryable: (e: unknown) => boolean
  /** Stops the waiting; an aborted signal also means no further attempt. */
  signal?: AbortSignal
  /** Told before each wait: the failure, the attempt about to come (2, 3, ...) and the wait. */
  onRetry?: (e: unknown, next: number, delayMs: number) => void
  /** The error to throw when every attempt failed (default: the last failure). */
  exhausted?: (last: unknown, attempts: number) => unknown
  /** The error to throw when `signal` ends the waiting (default: the last failure). */
  cancelled?: (last: unknown) => unknown
}

export async function retry<T>(call: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const attempts = Math.max(1, o.attempts)
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt)
    } catch (e) {
      if (!o.retryable(e)) throw e
      if (attempt >= attempts) throw o.exhausted ? o.exhausted(e, attempts) : e
      const delayMs = o.backoffMs * 2 ** (attempt - 1)
      try {
        o.signal?.throwIfAborted()
        o.onRetry?.(e, attempt + 1, delayMs)
        await sleep(delayMs, undefined, { signal: o.signal })
      } catch {
        throw o.cancelled ? o.cancelled(e) : e
      }
    }
  }
}
