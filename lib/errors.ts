/**
 * The one user-facing error type shared by every layer. `message` says what is wrong
 * (naming the object and the verb), `hint` says what to run next. Neither may ever
 * contain token material: build messages from fingerprints and names only.
 */
export class OpsError extends Error {
  readonly hint?: string
  /** A stable machine-readable reason, e.g. `invalid_grant`, `Forbidden`, `ScopesMissing`. */
  readonly reason: string
  /** False when retrying cannot help (bad input, RBAC, revoked token); the engine skips retries. */
  readonly retryable: boolean

  constructor(message: string, opts: { hint?: string; reason?: string; retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'OpsError'
    this.hint = opts.hint
    this.reason = opts.reason ?? 'Error'
    this.retryable = opts.retryable ?? false
  }
}

export function isOpsError(e: unknown): e is OpsError {
  return e instanceof OpsError
}
