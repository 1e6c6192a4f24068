import { isOpsError } from '../../errors.ts'
import type { ErrorInfo } from '../events.ts'
import { TemplateError } from '../template.ts'

/** The run signal aborted an attempt (SIGINT, SIGTERM, SIGHUP). */
export class Interrupted extends Error {}
/** The node's `timeout` aborted an attempt. */
export class TimedOut extends Error {}

export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof TimedOut) return { message: e.message, reason: 'Timeout' }
  if (isOpsError(e)) return { message: e.message, hint: e.hint, reason: e.reason }
  if (e instanceof Error) return { message: e.message, reason: e.name === 'Error' ? 'Error' : e.name }
  return { message: String(e), reason: 'Error' }
}

/** A timeout is always worth another attempt; an OpsError says itself; a template error never is. */
export function retryable(e: unknown): boolean {
  if (e instanceof TimedOut) return true
  if (isOpsError(e)) return e.retryable
  return !(e instanceof TemplateError)
}
