// Every local hostile case (test/hostile/local-cases.ts) again, now with a reachable cluster and
// Google: the sandbox's kubeconfig is the real plane's (through a recording proxy of the case's
// own, so each case's requests are its own), its token file a grant of the stand-in, its client
// the stand-in's. Each asserts its plane expectation (its own unless it states `onPlane`), no
// stack trace, no hang, that it sent no write through its proxy (dry runs and "may I?" reviews
// store nothing), and that nothing changed: its files, the token Secret (uid, resourceVersion,
// bytes), the stale Secret, the Deployment (resourceVersion, restartedAt), the stand-in's grants.
// `cluster: 'own'` cases keep their refused or wedged server: the plane must see none of their
// requests. The world is only read, so a few cases run at once; a write is still pinned on the
// case that sent it, by its proxy.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LOCAL_CASES } from '../hostile/local-cases.ts'
import { expectations, onPlane, runCase } from '../hostile/case.ts'
import { localSandbox, startHangServer, type SandboxWorld } from '../hostile/local.ts'
import { filesBut, worldFacts, writesAmong } from '../hostile/plane.ts'
import { FIXTURE, resetFixtures } from '../k8s/fixtures.ts'
import { startGmailEnv, type GmailEnv } from '../e2e/gmail-env.ts'
import { startApiProxy } from '../e2e/api-proxy.ts'
import { clusterView, type ClusterView } from '../e2e/cluster.ts'

const kubeconfig = inject('kubeconfig')
let hang: Awaited<ReturnType<typeof startHangServer>>
let env: GmailEnv
let view: ClusterView
let world: Omit<SandboxWorld, 'kubeconfigText'>
let proxies: string

beforeAll(async () => {
  await resetFixtures(kubeconfig)
  view = await clusterView(kubeconfig)
  env = await startGmailEnv({ kubeconfig })
  const e = env.standIn.endpoints
  world = {
    tokenJson: (await env.seedTokenFile()).toString(),
    clientSecretsJson: readFileSync(env.clientSecretsFile, 'utf8'),
    sets: { authUrl: e.authUrl, tokenUrl: e.tokenUrl, tokeninfoUrl: e.tokeninfoUrl, gmailProfileUrl: e.gmailProfileUrl },
  }
  hang = await startHangServer()
  proxies = mkdtempSync(join(tmpdir(), 'credflow-hostile-proxies-'))
  await view.settled()
})
afterAll(async () => {
  await hang?.close()
  await env?.close()
  await resetFixtures(kubeconfig) // the next file gets the fixtures as they were, whatever a case did
  if (proxies) rmSync(proxies, { recursive: true, force: true })
})

// The detectors themselves, before the cases (alone on the plane): a write through a case's proxy
// is caught and a dry run is not; a changed Secret and a new grant change the facts.
describe('what the cases are checked with', () => {
  it('catches a write sent through a case proxy, a changed Secret and a new grant', async () => {
    const proxy = await startApiProxy(kubeconfig, { dir: proxies, name: 'detectors' })
    try {
      const before = await worldFacts(view, env.standIn)
      const viaProxy = await clusterView(proxy.kubeconfig)
      const body = { metadata: { annotations: { 'credflow.test/detector': 'x' } } }
      const k8s = await import('@kubernetes/client-node')
      const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
      await viaProxy.core.patchNamespacedSecret({ name: FIXTURE.secret, namespace: FIXTURE.namespace, body, dryRun: 'All' }, merge)
      expect(writesAmong(proxy.requests)).toEqual([])
      expect(await worldFacts(view, env.standIn)).toEqual(before)
      await viaProxy.core.patchNamespacedSecret({ name: FIXTURE.secret, namespace: FIXTURE.namespace, body }, merge)
      expect(writesAmong(proxy.requests)).toEqual([{ method: 'PATCH', path: `/api/v1/namespaces/${FIXTURE.namespace}/secrets/${FIXTURE.secret}` }])
      await env.seedTokenFile()
      const after = await worldFacts(view, env.standIn)
      expect(after.world.secret).not.toEqual(before.world.secret)
      expect(after.grants).toBe(before.grants + 1)
    } finally {
      await proxy.close()
      await resetFixtures(kubeconfig)
      await view.settled()
    }
  })
})

describe.concurrent('every local hostile case, on the real plane and the stand-in', () => {
  for (const c of LOCAL_CASES) {
    // Soft: a case reports all it got wrong at once (its message, its writes, what changed).
    it(`${c.id} (class ${c.cls}): ${c.did}`, { timeout: 90_000 }, async ({ expect }) => {
      const proxy = await startApiProxy(kubeconfig, { dir: proxies, name: c.id })
      const s = localSandbox(hang.port, { ...world, kubeconfigText: readFileSync(proxy.kubeconfig, 'utf8') })
      try {
        const run = await c.run(s)
        const before = { world: await worldFacts(view, env.standIn), files: filesBut(s.dir, c.mayChange) }
        const out = await runCase(run, s.env)
        expect.soft(expectations(onPlane(c), out), out.text).toEqual([])
        expect.soft(writesAmong(proxy.requests, c.takesLock), 'writes sent').toEqual([])
        if (c.cluster === 'own') expect.soft(proxy.requests, 'the plane was asked').toEqual([])
        expect.soft({ world: await worldFacts(view, env.standIn), files: filesBut(s.dir, c.mayChange) }, 'something changed').toEqual(before)
        await c.check?.(s, out)
      } finally {
        s.cleanup()
        await proxy.close()
      }
    })
  }
})
