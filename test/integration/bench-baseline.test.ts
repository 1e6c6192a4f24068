// The benchmark's baseline (bench/kubectl-sync.sh, kubectl built from the plane's release) really
// does the job it is timed against: the Secret holds the token file's bytes, the stale Secret is
// gone, the consumer rolled out exactly once; and its check-and-skip mode writes nothing when
// nothing is to do. Otherwise `npm run bench` would compare the tool with a script that cheats.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FIXTURE, resetFixtures } from '../k8s/fixtures.ts'
import { startGmailEnv, ROOT, type GmailEnv } from '../e2e/gmail-env.ts'
import { clusterView, RESTARTED_AT, type ClusterView } from '../e2e/cluster.ts'
import { buildKubectl } from '../../bench/world.ts'

const kubeconfig = inject('kubeconfig')
let env: GmailEnv
let view: ClusterView
let kubectl: string

beforeAll(async () => {
  kubectl = buildKubectl()
  await resetFixtures(kubeconfig)
  view = await clusterView(kubeconfig)
  env = await startGmailEnv({ kubeconfig })
  await env.seedTokenFile()
})
afterAll(async () => {
  await env?.close()
  await resetFixtures(kubeconfig)
})

/**
 * `kubectl rollout restart` stamps restartedAt in whole seconds and refuses a second restart in
 * the same second ("if restart has already been triggered within the past second, please wait").
 * On a fast machine one test's sync follows the previous one's within a second: wait it out.
 */
async function pastLastRestartSecond(): Promise<void> {
  const stamp = (await view.deployment()).spec?.template?.metadata?.annotations?.[RESTARTED_AT]
  const wait = stamp ? Date.parse(stamp) + 1100 - Date.now() : 0
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}

/** The script as the bench runs it, with a deadline; async, since the Google stand-in lives in this process. */
async function sync(mode: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  await pastLastRestartSecond()
  const args = [
    join(ROOT, 'bench/kubectl-sync.sh'), '--mode', mode, '--token-file', env.tokenFile, '--token-url', env.standIn.endpoints.tokenUrl,
    '--secret', FIXTURE.secret, '--key', FIXTURE.key, '--stale', FIXTURE.staleSecret, '--deployment', FIXTURE.deployment, FIXTURE.namespace,
  ]
  return new Promise((resolve) => {
    execFile('bash', args, { env: { ...process.env, KUBECTL: kubectl, KUBECONFIG: kubeconfig }, timeout: 90_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, stdout, stderr }))
  })
}

/** The Deployment controller's revision counter: one more per rollout (old ReplicaSets get garbage-collected, so counting them would not do). */
const revision = (d: Awaited<ReturnType<ClusterView['deployment']>>) => Number(d.metadata!.annotations!['deployment.kubernetes.io/revision'])

describe.each(['apply', 'recreate'])('kubectl-sync.sh --mode %s', (mode) => {
  it('puts the file byte for byte into the Secret, deletes the stale one, rolls the consumer out once', async () => {
    await resetFixtures(kubeconfig)
    const before = await view.deployment()

    const r = await sync(mode)

    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await view.secretBytes()).toEqual(readFileSync(env.tokenFile))
    expect(await view.secret(FIXTURE.staleSecret)).toBeUndefined()
    const after = await view.deployment()
    expect(after.metadata!.generation).toBe(before.metadata!.generation! + 1)
    expect(after.spec!.template!.metadata!.annotations![RESTARTED_AT]).toBeDefined()
    expect(revision(after)).toBe(revision(before) + 1)
    expect(after.status!.updatedReplicas).toBe(after.spec!.replicas)
    expect(r.stdout).toContain(`${FIXTURE.namespace}: synced`)
  })
})

describe('kubectl-sync.sh --mode skip', () => {
  it('with nothing to do, writes nothing and restarts nothing', async () => {
    const setup = await sync('apply')
    expect(setup.code, setup.stdout + setup.stderr).toBe(0)
    const secret = await view.secret()
    const generation = (await view.deployment()).metadata!.generation

    const r = await sync('skip')

    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`${FIXTURE.namespace}: up to date`)
    expect((await view.secret())!.metadata!.resourceVersion).toBe(secret!.metadata!.resourceVersion)
    expect((await view.deployment()).metadata!.generation).toBe(generation)
  })

  it('with a stale Secret left, syncs', async () => {
    await resetFixtures(kubeconfig)
    const r = await sync('skip')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`${FIXTURE.namespace}: synced`)
    expect(await view.secretBytes()).toEqual(readFileSync(env.tokenFile))
    expect(await view.secret(FIXTURE.staleSecret)).toBeUndefined()
  })
})
