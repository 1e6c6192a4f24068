import { request } from 'node:https'
import { readFileSync, existsSync } from 'node:fs'

/** Where and as whom to call the apiserver; `caFile` may not exist yet while it starts. */
export interface ApiTarget {
  server: string
  token: string
  caFile?: string
}

export interface ApiResponse {
  status: number
  body: string
  json<T = any>(): T
}

/**
 * A bare HTTPS call to the apiserver, so the harness starts without loading
 * @kubernetes/client-node. Before the serving cert exists on disk (early /readyz polls
 * against our own loopback child) we cannot pin it, so verification is skipped then.
 */
export function apiCall(t: ApiTarget, method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<ApiResponse> {
  const ca = t.caFile && existsSync(t.caFile) ? readFileSync(t.caFile) : undefined
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, t.server),
      {
        method,
        ca,
        rejectUnauthorized: ca !== undefined,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${t.token}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) }))
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs}ms`)))
    req.on('error', reject)
    req.end(payload)
  })
}
