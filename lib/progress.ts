/**
 * Progress lines from deep inside a client (a Kubernetes request that has not answered yet,
 * a Google call being retried) to the node that made the call, without threading a logger
 * through every function: the scheduler runs each step attempt inside `withProgress(log)`,
 * and the clients call `progress(line)`. Outside a step (tests, scripts) lines go nowhere.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { formatDuration } from './duration.ts'

const sink = new AsyncLocalStorage<(line: string) => void>()

export function withProgress<T>(log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  return sink.run(log, fn)
}

export function progress(line: string): void {
  sink.getStore()?.(line)
}

/**
 * While `p` is pending, say every `everyMs` what it waits for and for how long, against its
 * limit: "waiting for GET https://…: 10s so far (gives up at 30s)". Returns `p`.
 */
export function reportWhilePending<T>(p: Promise<T>, what: string, limitMs: number, everyMs = Math.max(5_000, Math.min(15_000, Math.floor(limitMs / 3)))): Promise<T> {
  const log = sink.getStore()
  if (!log || everyMs >= limitMs) return p
  const started = Date.now()
  const timer = setInterval(() => log(`waiting for ${what}: ${formatDuration(Date.now() - started)} so far (gives up at ${formatDuration(limitMs)})`), everyMs)
  timer.unref()
  return p.finally(() => clearInterval(timer))
}
