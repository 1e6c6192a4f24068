/**
 * Kubernetes failures as OpsError, in kubectl's vocabulary: the verb, the resource, the
 * namespace/name, and the server's reason. client-node's ApiException message embeds the
 * raw response body and headers, and a body may echo what we sent (Secret data), so we
 * never reuse that message or attach the exception as `cause`: only status, reason and a
 * redacted server message survive.
 */
import { OpsError } from '../errors.ts'

export interface K8sOperation {
  /** kubectl verb: get, list, create, update, patch, delete, watch. */
  verb: string
  /** Plural resource, as in RBAC rules: `secrets`, `deployments`. */
  resource: string
  namespace?: string
  name?: string
  dryRun?: boolean
  /** Named in "cannot reach" messages. */
  server?: string
  context?: string
}

/** What we keep of a failed API response. */
export interface ApiStatus {
  code: number
  reason: string
  message: string
}

/** Status of an ApiException-like error (duck-typed: client-node is imported lazily). */
export function apiStatusOf(e: unknown): ApiStatus | undefined {
  if (!e || typeof e !== 'object') return undefined
  const { code, body, headers } = e as { code?: unknown; body?: unknown; headers?: unknown }
  if (typeof code !== 'number' || code < 100 || code > 599 || !('body' in e) || typeof headers !== 'object') return undefined
  let status: { reason?: unknown; message?: unknown } = {}
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body)
    } catch {
      status = {} // not a v1 Status (e.g. a proxy's HTML page): keep nothing of it
    }
  } else if (body && typeof body === 'object') {
    status = body as typeof status
  }
  return {
    code,
    reason: typeof status.reason === 'string' && status.reason ? status.reason : reasonForCode(code),
    message: typeof status.message === 'string' ? redact(status.message) : '',
  }
}

export const isNotFound = (e: unknown) => apiStatusOf(e)?.code === 404 || (e instanceof OpsError && e.reason === 'NotFound')
export const isAlreadyExists = (e: unknown) =>
  apiStatusOf(e)?.reason === 'AlreadyExists' || (e instanceof OpsError && e.reason === 'AlreadyExists')
export const isConflict = (e: unknown) => apiStatusOf(e)?.reason === 'Conflict' || (e instanceof OpsError && e.reason === 'Conflict')

function reasonForCode(code: number): string {
  const known: Record<number, string> = {
    400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
    409: 'Conflict', 410: 'Expired', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
    500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
  }
  return known[code] ?? (code >= 500 ? 'InternalError' : 'Unknown')
}

/**
 * Blank out anything in a server message that could be credential material: base64 or
 * token-looking runs, `data` maps, values of token/secret keys, Go-printed byte slices.
 * Kubernetes names, UIDs and resourceVersions survive (lowercase, dash-separated, digits).
 */
export function redact(text: string): string {
  const out = text
    .replace(/"(data|stringData)"\s*:\s*\{[^}]*\}?/g, '"$1":{[redacted]}')
    .replace(/\b(data|stringData):map\[[^\]]*\]?/g, '$1:map[[redacted]]')
    .replace(/("[^"]*(?:token|secret|password|credential)[^"]*"\s*:\s*)"[^"]*"/gi, '$1"[redacted]"')
    .replace(/\[(?:\d{1,3}[ ,]\s*){7,}\d{1,3}\]/g, '[redacted bytes]')
    .replace(/(?:0x[0-9a-f]{2},?\s*){8,}/gi, '[redacted bytes] ')
    .replace(/[A-Za-z0-9+/=_.\-]{16,}/g, (run) => (looksSecret(run) ? '[redacted]' : run))
  return out.length > 600 ? out.slice(0, 600) + '…' : out
}

function looksSecret(run: string): boolean {
  if (/[+=]/.test(run) || /\d\/\/\w/.test(run)) return true // base64 padding/alphabet, Google refresh tokens `1//…`
  for (const part of run.split(/[./-]/)) {
    if (part.length >= 12 && /[A-Z]/.test(part) && /[a-z]/.test(part) && /\d/.test(part)) return true
    if (part.length >= 32) return true // long hex or alphanumeric blobs (bearer tokens)
  }
  return false
}

/** Why a fetch never got a response (node-fetch FetchError / DOMException AbortError). */
function transportCode(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return undefined
  const x = e as { name?: unknown; code?: unknown; errno?: unknown; type?: unknown; cause?: unknown }
  if (x.name === 'AbortError' || x.type === 'aborted') return 'ABORTED'
  if (typeof x.code === 'string') return x.code
  if (typeof x.errno === 'string') return x.errno
  return x.cause ? transportCode(x.cause) : undefined
}

function target(op: K8sOperation): string {
  const what = op.name ? `${op.resource} "${op.name}"` : op.resource
  return op.namespace ? `${what} in namespace "${op.namespace}"` : what
}

function canI(op: K8sOperation, user?: string): string {
  const res = op.name ? `${op.resource}/${op.name}` : op.resource
  return `kubectl auth can-i ${op.verb} ${res}${op.namespace ? ` -n ${op.namespace}` : ''}${user ? ` --as=${user}` : ''}`
}

/** The one way lib/k8s turns a failed call into an error a person can act on. */
export function k8sError(e: unknown, op: K8sOperation): OpsError {
  if (e instanceof OpsError) return e
  const dry = op.dryRun ? ' (server dry-run)' : ''
  const status = apiStatusOf(e)
  if (status) return statusError(status, op, dry)

  const code = transportCode(e)
  const where = `${op.server ?? 'the API server'}${op.context ? ` (context "${op.context}")` : ''}`
  if (code === 'ABORTED') return new OpsError(`${op.verb} ${target(op)} aborted`, { reason: 'Aborted' })
  if (code === 'REQUEST_TIMEOUT') {
    const limit = (e as { timeoutMs: number }).timeoutMs
    const secs = `${Math.ceil(limit / 1000)}s`
    return new OpsError(`no answer from ${where} within ${secs} to ${op.verb} ${target(op)} (request timeout)`, {
      reason: 'Timeout',
      retryable: true,
      hint: `the server took the connection but did not answer: is it overloaded, or a proxy or firewall holding the request? check: kubectl${op.context ? ` --context ${op.context}` : ''} --request-timeout=${secs} get --raw=/readyz; a slow server needs a longer limit: --request-timeout 2m`,
    })
  }
  if (code && /CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_VERIFY|ALTNAME/i.test(code)) {
    return new OpsError(`TLS verification failed talking to ${where} to ${op.verb} ${target(op)}: ${code}`, {
      reason: 'TLSError',
      hint: 'check certificate-authority in the kubeconfig: kubectl config view --minify',
    })
  }
  if (code) {
    return new OpsError(`cannot reach ${where} to ${op.verb} ${target(op)}: ${code}`, {
      reason: 'Unreachable',
      retryable: true,
      hint: `kubectl config get-contexts; is the cluster up? kubectl${op.context ? ` --context ${op.context}` : ''} cluster-info`,
    })
  }
  const message = e instanceof Error ? redact(e.message) : 'unknown error'
  return new OpsError(`${op.verb} ${target(op)} failed${dry}: ${message}`, { reason: 'Unknown' })
}

function statusError(s: ApiStatus, op: K8sOperation, dry: string): OpsError {
  const detail = s.message ? `: ${s.message}` : ''
  // Admission refusals come as 403 (webhooks) or 422 (ValidatingAdmissionPolicy); name them as such.
  if (/admission webhook|ValidatingAdmissionPolicy|denied (the )?request/.test(s.message)) {
    return new OpsError(`${s.reason}: ${op.verb} ${target(op)} denied by admission${dry}${detail}`, {
      reason: s.reason,
      hint: 'an admission policy or webhook refused the request; its message says why',
    })
  }
  switch (s.code) {
    case 403: {
      const user = /User "([^"]+)" cannot/.exec(s.message)?.[1]
      return new OpsError(`Forbidden: cannot ${op.verb} ${target(op)} (RBAC${user ? `: ${user}` : ''})${dry}`, {
        reason: 'Forbidden',
        hint: `grant it in the Role, then check with: ${canI(op, user)}`,
      })
    }
    case 401:
      return new OpsError(`Unauthorized: the server rejected our credentials while trying to ${op.verb} ${target(op)}${dry}`, {
        reason: 'Unauthorized',
        hint: `the kubeconfig user's token or certificate is invalid or expired: kubectl${op.context ? ` --context ${op.context}` : ''} auth whoami`,
      })
    case 404:
      return new OpsError(`NotFound: cannot ${op.verb} ${target(op)}: not found${dry}`, {
        reason: 'NotFound',
        hint: `kubectl get ${op.resource}${op.name ? ` ${op.name}` : ''}${op.namespace ? ` -n ${op.namespace}` : ''}`,
      })
    case 409:
      return new OpsError(`${s.reason}: cannot ${op.verb} ${target(op)}${dry}${detail}`, {
        reason: s.reason,
        // A Conflict means someone changed the object since we read it: observing again and retrying is safe.
        retryable: s.reason === 'Conflict',
        hint: s.reason === 'Conflict' ? 'the object changed since it was read; rerun to act on its current state' : undefined,
      })
    default: {
      const retryable = s.code === 429 || s.code >= 500
      return new OpsError(`${s.reason}: cannot ${op.verb} ${target(op)} (HTTP ${s.code})${dry}${detail}`, { reason: s.reason, retryable })
    }
  }
}
