/**
 * A sandbox for the hostile cases that need the real test plane and the Google stand-in: one
 * GmailEnv (token file, client secrets, stand-in, state directory) and the recording API proxy,
 * which can wedge (accept requests and never answer) like an apiserver that hangs. What "nothing
 * changed" means there: the token Secret's uid, resourceVersion and bytes, the stale Secret, the
 * Deployment's resourceVersion and restartedAt, the stand-in's grant count, and every local file.
 */
import { createHash } from 'node:crypto'
import type { GmailEnv } from '../e2e/gmail-env.ts'
import { isLeaseRequest, MUTATING, worldWrite, type ApiProxy, type ApiRequest } from '../e2e/api-proxy.ts'
import type { GoogleStandIn } from '../oauth-server/index.ts'
import type { ClusterView, WorldSnapshot } from '../e2e/cluster.ts'
import { FIXTURE, FIXTURE_TARGET, type Target } from '../k8s/fixtures.ts'
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

export const TARGET = FIXTURE_TARGET
/** The targets param: the fixture's target with `over` applied, one item each. */
export const targets = (...ts: Array<Partial<Target>>) => JSON.stringify(ts.map((t) => ({ ...TARGET, ...t })))

export interface WorldFacts {
  world: WorldSnapshot
  secretSha?: string
  staleSha?: string
  grants: number
}
export interface PlaneFacts extends WorldFacts {
  files: Record<string, string>
}

const sha = (text?: string) => (text === undefined ? undefined : createHash('sha256').update(text).digest('hex').slice(0, 16))
const dataOf = (s?: { data?: Record<string, string> }) => (s ? JSON.stringify(Object.entries(s.data ?? {}).sort()) : undefined)

/** The cluster objects and the grants a case must leave as it found them. */
export async function worldFacts(view: ClusterView, standIn: GoogleStandIn): Promise<WorldFacts> {
  return {
    world: await view.snapshot(),
    secretSha: sha(dataOf(await view.secret())),
    staleSha: sha(dataOf(await view.secret(FIXTURE.staleSecret))),
    grants: standIn.control.issuedTokens().filter((t) => t.kind === 'refresh').length,
  }
}

/** Every file under `dir` but the `mayChange` paths (relative to it). */
export const filesBut = (dir: string, mayChange: string[] = []) =>
  Object.fromEntries(Object.entries(fileSnapshot(dir)).filter(([k]) => !mayChange.some((m) => k === m || k.startsWith(m + '/'))))

/** What a case must leave as it found it; `mayChange` (paths under the env's dir) are left out of the files. */
export async function planeFacts(s: PlaneSandbox, mayChange: string[] = []): Promise<PlaneFacts> {
  return { ...(await worldFacts(s.view, s.env.standIn)), files: filesBut(s.env.dir, mayChange) }
}

/**
 * The writes among the requests a case sent through the proxy: every POST/PUT/PATCH/DELETE but
 * a server-side dry run (dryRun=All stores nothing), the preflight's SelfSubjectAccessReviews
 * (a POST that stores nothing) and, for a case that starts a run, the Lease that is its lock.
 */
export const writesAmong = (requests: readonly ApiRequest[], takesLock = false) =>
  requests.filter((q) => (worldWrite(q) || (!takesLock && isLeaseRequest(q) && MUTATING.has(q.method))) && !/[?&]dryRun=All\b/.test(q.path))
