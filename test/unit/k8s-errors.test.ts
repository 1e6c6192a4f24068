import { describe, it, expect } from 'vitest'
import { inspect } from 'node:util'
import { ApiException } from '@kubernetes/client-node'
import { k8sError, redact, apiStatusOf, isNotFound, isConflict, isAlreadyExists } from '../../lib/k8s/errors.ts'
import { OpsError } from '../../lib/errors.ts'

const TOKEN = 'ya29.a0AfB_byC9xYzQ1w2E3r4T5y6U7i8O9p0'
const REFRESH = '1//0gLmN3oPqRsTuVwXyZ-abcdefghijklmnop'
const TOKEN_B64 = Buffer.from(JSON.stringify({ token: TOKEN, refresh_token: REFRESH })).toString('base64')

/** What client-node 1.4 throws for a non-2xx answer: the raw v1 Status text as body. */
function apiException(code: number, status: object | string, headers: Record<string, string> = { 'audit-id': 'x' }) {
  const body = typeof status === 'string' ? status : JSON.stringify(status)
  return new ApiException(code, 'Unknown API Status Code!', body, headers)
}

const op = { verb: 'delete', resource: 'secrets', namespace: 'basketball-api', name: 'gmail-oauth-token' }

function expectNoSecrets(e: OpsError) {
  for (const text of [e.message, e.hint ?? '', inspect(e, { depth: 5 }), JSON.stringify(e)]) {
    expect(text).not.toContain(TOKEN)
    expect(text).not.toContain(REFRESH)
    expect(text).not.toContain(TOKEN_B64)
    expect(text).not.toContain(TOKEN_B64.slice(0, 24))
  }
}

describe('k8sError: RBAC denials', () => {
  it('names verb, resource, namespace/name and the user, with a can-i hint', () => {
    const e = k8sError(apiException(403, {
      kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403,
      message: 'secrets "gmail-oauth-token" is forbidden: User "system:serviceaccount:basketball-api:oauth-refresher" cannot delete resource "secrets" in API group "" in the namespace "basketball-api"',
    }), op)
    expect(e).toBeInstanceOf(OpsError)
    expect(e.message).toBe('Forbidden: cannot delete secrets "gmail-oauth-token" in namespace "basketball-api" (RBAC: system:serviceaccount:basketball-api:oauth-refresher)')
    expect(e.reason).toBe('Forbidden')
    expect(e.retryable).toBe(false)
    expect(e.hint).toContain('kubectl auth can-i delete secrets/gmail-oauth-token -n basketball-api --as=system:serviceaccount:basketball-api:oauth-refresher')
  })

  it('tells a webhook refusal (403) apart from RBAC and keeps its (redacted) message', () => {
    const e = k8sError(apiException(403, {
      reason: 'Forbidden', code: 403,
      message: `secrets "x" is forbidden: ValidatingAdmissionPolicy 'only-fixed-names' with binding 'b' denied request: name must be fixed; got data ${TOKEN_B64}`,
    }), { ...op, verb: 'create', dryRun: true })
    expect(e.message).toContain('Forbidden: create secrets "gmail-oauth-token" in namespace "basketball-api" denied by admission (server dry-run)')
    expect(e.message).toContain("ValidatingAdmissionPolicy 'only-fixed-names'")
    expectNoSecrets(e)
  })

  it('names a ValidatingAdmissionPolicy denial (422 Invalid) as admission too', () => {
    const e = k8sError(apiException(422, {
      reason: 'Invalid', code: 422,
      message: `secrets "x" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'p' denied request: no`,
    }), { ...op, verb: 'create' })
    expect(e.reason).toBe('Invalid')
    expect(e.message).toBe(`Invalid: create secrets "gmail-oauth-token" in namespace "basketball-api" denied by admission: secrets "x" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'p' denied request: no`)
  })
})

describe('k8sError: scrubbing response bodies', () => {
  it('never carries the ApiException text, body or headers, even when the body echoes Secret data', () => {
    const raw = apiException(422, {
      kind: 'Status', reason: 'Invalid', code: 422,
      message: `Secret "gmail-oauth-token" is invalid: data: {"gmail.json":"${TOKEN_B64}"} and [123 34 116 111 107 101 110 34 58 34 121 97]`,
      details: { causes: [{ message: TOKEN }] },
    }, { 'x-echo': TOKEN })
    expect(raw.message).toContain(TOKEN_B64) // the hazard: client-node's own message
    const e = k8sError(raw, { ...op, verb: 'create' })
    expect(e.message).toMatch(/^Invalid: cannot create secrets "gmail-oauth-token" in namespace "basketball-api" \(HTTP 422\)/)
    expect(e.cause).toBeUndefined()
    expectNoSecrets(e)
    expect(inspect(e)).not.toContain('x-echo')
  })

  it('keeps nothing of a body that is not a v1 Status', () => {
    const e = k8sError(apiException(502, `<html>${TOKEN}</html>`), { verb: 'get', resource: 'secrets', namespace: 'n', name: 's' })
    expect(e.message).toBe('InternalError: cannot get secrets "s" in namespace "n" (HTTP 502)')
    expect(e.retryable).toBe(true)
  })
})

describe('k8sError: retryability by status', () => {
  const cases: Array<[number, string, boolean]> = [
    [409, 'Conflict', true], [409, 'AlreadyExists', false], [404, 'NotFound', false], [422, 'Invalid', false],
    [429, 'TooManyRequests', true], [500, 'InternalError', true], [503, 'ServiceUnavailable', true], [401, 'Unauthorized', false],
  ]
  for (const [code, reason, retryable] of cases) {
    it(`${code} ${reason} → retryable=${retryable}`, () => {
      const e = k8sError(apiException(code, { reason, code, message: 'm' }), op)
      expect(e.reason).toBe(reason)
      expect(e.retryable).toBe(retryable)
    })
  }
  it('Unauthorized (client-node gives no body) still says what failed', () => {
    const e = k8sError(new ApiException(401, 'Unauthorized', undefined, {}), { ...op, context: 'prod' })
    expect(e.message).toContain('Unauthorized')
    expect(e.message).toContain('delete secrets "gmail-oauth-token"')
    expect(e.hint).toContain('--context prod auth whoami')
  })
})

describe('k8sError: transport failures', () => {
  it('an unreachable server is named with its context, retryable, hinting get-contexts', () => {
    const fetchError = Object.assign(new Error('request to https://10.9.8.7:6443/api/v1/... failed, reason: connect ECONNREFUSED'), {
      name: 'FetchError', type: 'system', code: 'ECONNREFUSED', errno: 'ECONNREFUSED',
    })
    const e = k8sError(fetchError, { ...op, verb: 'get', server: 'https://10.9.8.7:6443', context: 'prod' })
    expect(e.message).toBe('cannot reach https://10.9.8.7:6443 (context "prod") to get secrets "gmail-oauth-token" in namespace "basketball-api": ECONNREFUSED')
    expect(e.reason).toBe('Unreachable')
    expect(e.retryable).toBe(true)
    expect(e.hint).toContain('kubectl config get-contexts')
  })
  it('a TLS failure is not retried', () => {
    const e = k8sError(Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), op)
    expect(e.reason).toBe('TLSError')
    expect(e.retryable).toBe(false)
  })
  it('an abort is Aborted', () => {
    const e = k8sError(Object.assign(new Error('The user aborted a request.'), { name: 'AbortError', type: 'aborted' }), op)
    expect(e.reason).toBe('Aborted')
  })
  it('passes an OpsError through unchanged', () => {
    const original = new OpsError('x', { reason: 'Mine' })
    expect(k8sError(original, op)).toBe(original)
  })
})

describe('status helpers', () => {
  it('classify ApiExceptions and OpsErrors', () => {
    expect(isNotFound(apiException(404, { reason: 'NotFound', code: 404 }))).toBe(true)
    expect(isConflict(apiException(409, { reason: 'Conflict', code: 409 }))).toBe(true)
    expect(isAlreadyExists(apiException(409, { reason: 'AlreadyExists', code: 409 }))).toBe(true)
    expect(isConflict(apiException(409, { reason: 'AlreadyExists', code: 409 }))).toBe(false)
    expect(isNotFound(new OpsError('gone', { reason: 'NotFound' }))).toBe(true)
    expect(apiStatusOf(new Error('plain'))).toBeUndefined()
  })
})

describe('redact', () => {
  it('keeps Kubernetes names, UIDs, resourceVersions and annotation keys', () => {
    const msg = 'Precondition failed: UID in precondition: 4b1e8a52-9f0c-4c11-a1b7-7f3d2c9e0a61, resourceVersion 12345 for ' +
      'secrets "gmail-oauth-westsidebasketball" key gmail-westsidebasketball.json, annotation kubectl.kubernetes.io/restartedAt, ' +
      'User "system:serviceaccount:basketball-api:oauth-refresher"'
    expect(redact(msg)).toBe(msg)
  })
  it('removes base64, JWTs, Google tokens, hex bearer tokens, data maps and byte slices', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'
    const hex = 'f'.repeat(8) + '0123456789abcdef0123456789abcdef'
    const out = redact(`a ${TOKEN_B64} b ${jwt} c ${TOKEN} d ${REFRESH} e ${hex} f "data":{"k":"v"} g data:map[k:[1 2 3]] h [1 2 3 4 5 6 7 8 9] i "client_secret":"hunter2"`)
    for (const s of [TOKEN_B64, jwt, TOKEN, REFRESH, hex, '"k":"v"', 'hunter2', '4 5 6 7']) expect(out).not.toContain(s)
    expect(out).toContain('[redacted]')
  })
})
