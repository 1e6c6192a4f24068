// The hostile cases that need the real plane and the Google stand-in (test/hostile/plane-cases.ts):
// each runs the real CLI as a child process with a hard deadline, then asserts the exit code,
// the message's key phrases, no stack trace, and that nothing changed: the token Secret (uid,
// resourceVersion, bytes), the stale Secret, the Deployment (resourceVersion, restartedAt), the
// stand-in's grant count, and every local file (type, mode, hash); and that no write went through
// the proxy (test/hostile/plane.ts writesAmong). One at a time: they share the plane.
import { describe, it, expect, beforeAll, beforeEach, afterAll, inject } from 'vitest'
import { PLANE_CASES } from '../hostile/plane-cases.ts'
import { expectations, runCase } from '../hostile/case.ts'
import { planeFacts, writesAmong, type PlaneSandbox } from '../hostile/plane.ts'
import { resetFixtures, FIXTURE_TOKEN_JSON, FIXTURE } from '../k8s/fixtures.ts'
import { startGmailEnv } from '../e2e/gmail-env.ts'
import { startApiProxy } from '../e2e/api-proxy.ts'
import { clusterView } from '../e2e/cluster.ts'

const kubeconfig = inject('kubeconfig')
let s: PlaneSandbox

beforeAll(async () => {
  await resetFixtures(kubeconfig)
  const view = await clusterView(kubeconfig)
  const env = await startGmailEnv({ kubeconfig })
  await env.seedTokenFile()
  const proxy = await startApiProxy(kubeconfig, { dir: env.dir, name: 'hostile' })
  s = {
    env,
    view,
    proxy,
    admin: kubeconfig,
    args: (sets = {}, ...flags) => ['gmail-reauth', ...env.sets({ kubeconfig: proxy.kubeconfig, ...sets }), ...(flags.length ? flags : ['--non-interactive', '--yes'])],
    baseEnv: { ...(process.env as Record<string, string>), CI: 'true', NO_COLOR: '1', CREDFLOW_STATE_DIR: env.stateDir, KUBECONFIG: proxy.kubeconfig },
  }
})
// A case must not inherit another's damage: if one did change the world, put it back.
beforeEach(async () => {
  const pristine = (await s.view.secretBytes())?.toString() === FIXTURE_TOKEN_JSON && (await s.view.secret(FIXTURE.staleSecret)) !== undefined
  if (!pristine) await resetFixtures(kubeconfig)
  await s.view.settled()
})
afterAll(async () => {
  await s?.proxy.close()
  await s?.env.close()
  await resetFixtures(kubeconfig)
})

describe('hostile input on the real plane', () => {
  for (const c of PLANE_CASES) {
    it(`${c.id} (class ${c.cls}): ${c.did}`, { timeout: 90_000 }, async () => {
      try {
        const run = await c.run(s)
        await s.view.settled() // a case's own change (a scale, a pause) has rolled through
        const before = await planeFacts(s, c.mayChange)
        const sent = s.proxy.requests.length
        const out = await runCase(run, s.baseEnv)
        expect(expectations(c, out), out.text).toEqual([])
        expect(writesAmong(s.proxy.requests.slice(sent), c.takesLock), `writes sent:\n${out.text}`).toEqual([])
        expect(await planeFacts(s, c.mayChange), `something changed:\n${out.text}`).toEqual(before)
        await c.check?.(s, out)
      } finally {
        await c.after?.(s)
      }
    })
  }
})
