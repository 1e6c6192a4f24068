/**
 * A sandbox for the hostile cases that need the real test plane and the Google stand-in: one
 * GmailEnv (token file, client secrets, stand-in, state directory) and the recording API proxy,
 * which can wedge (accept requests and never answer) like an apiserver that hangs. What "nothing
 * changed" means there: the token Secret's uid, resourceVersion and bytes, the stale Secret, the
 * Deployment's resourceVersion and restartedAt, the stand-in's grant count, and every local file.
 */
import { createHash } from 'node:crypto'
import type { GmailEnv } from '../e2e/gmail-env.ts'
import type { ApiProxy } from '../e2e/api-proxy.ts'
import type { ClusterView, WorldSnapshot } from '../e2e/cluster.ts'
import { FIXTURE } from '../k8s/fixtures.ts'
import { fileSnapshot } from './case.ts'

export interface PlaneSandbox {
  env: GmailEnv
  view: ClusterView
  proxy: ApiProxy
  /** The plane's admin kubeconfig (for setting a case up; the CLI goes through the proxy). */
  admin: string
  /** `gmail-reauth` with the env's params (kubeconfig: the proxy), `sets` over them, then `flags`. */
  args(sets?: Record<string, string>, ...flags: string[]): string[]
  /** The environment the CLI runs with. */
  baseEnv: Record<string, string>
}

export interface Target {
  namespace: string
  secret: string
  key: string
  staleSecrets: string[]
  deployments: string[]
}
export const TARGET: Target = { namespace: FIXTURE.namespace, secret: FIXTURE.secret, key: FIXTURE.key, staleSecrets: [FIXTURE.staleSecret], deployments: [FIXTURE.deployment] }
/** The targets param: the fixture's target with `over` applied, one item each. */
export const targets = (...ts: Array<Partial<Target>>) => JSON.stringify(ts.map((t) => ({ ...TARGET, ...t })))

export interface PlaneFacts {
  world: WorldSnapshot
  secretSha?: string
  staleSha?: string
  grants: number
  files: Record<string, string>
}

const sha = (text?: string) => (text === undefined ? undefined : createHash('sha256').update(text).digest('hex').slice(0, 16))
const dataOf = (s?: { data?: Record<string, string> }) => (s ? JSON.stringify(Object.entries(s.data ?? {}).sort()) : undefined)

/** What a case must leave as it found it; `mayChange` (paths under the env's dir) are left out of the files. */
export async function planeFacts(s: PlaneSandbox, mayChange: string[] = []): Promise<PlaneFacts> {
  const files = Object.fromEntries(Object.entries(fileSnapshot(s.env.dir)).filter(([k]) => !mayChange.some((m) => k === m || k.startsWith(m + '/'))))
  return {
    world: await s.view.snapshot(),
    secretSha: sha(dataOf(await s.view.secret())),
    staleSha: sha(dataOf(await s.view.secret(FIXTURE.staleSecret))),
    grants: s.env.standIn.control.issuedTokens().filter((t) => t.kind === 'refresh').length,
    files,
  }
}
