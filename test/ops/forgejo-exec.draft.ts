// DRAFT, deliberately outside the vitest include globs: it becomes
// test/integration/ops-forgejo-exec.test.ts once the gmail-reauth steps exist (tasks/gmail/*)
// and a valid token file can be minted against the Google stand-in (see mintTokenFile).
//
// It runs .forgejo/workflows/gmail-reauth.yaml for real with act on this host
// (`-P operator-host=-self-hosted`, which is what a host-label forgejo-runner does), as the
// workflow's ServiceAccount, against the test control plane. forgejo-runner itself cannot be
// built here (its module host is not on the Go proxy allowlist), and `forgejo-runner exec`
// could not pass dispatch inputs anyway; act can (--input).
import * as k8s from '@kubernetes/client-node'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { applyFixtures, FIXTURE } from '../k8s/fixtures.ts'
import { applyManifestFiles, DEPLOY_MANIFESTS, saKubeconfig, WORKFLOW_SA } from './cluster.ts'
import { REPO_ROOT, toolPath } from './tools.ts'

const admin = inject('kubeconfig')
const runDir = inject('runDir')
let checkout: string
let home: string
let jobKubeconfig: string
let core: k8s.CoreV1Api

/** TODO(with the OAuth stand-in author): a valid, freshly consented token file for the account. */
async function mintTokenFile(_path: string): Promise<{ endpoints: Record<string, string> }> {
  throw new Error('draft: mint a token with test/oauth-server (startGoogleStandIn + a scripted consent) and return its endpoints')
}

/** The working tree as a scratch checkout (act copies it into its host workdir; .gitignore'd files stay out). */
function scratchCheckout(): string {
  const dir = mkdtempSync(join(runDir, 'forgejo-exec-'))
  const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.split('\n').filter(Boolean)
  for (const f of files) cpSync(join(REPO_ROOT, f), join(dir, f), { recursive: true })
  spawnSync('git', ['init', '-q'], { cwd: dir })
  // `npm ci` in the job then only links from the warm npm cache.
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

function dispatch(inputs: { mode: 'dry-run' | 'apply'; resume?: boolean; from?: string }, env: Record<string, string> = {}) {
  const args = [
    'workflow_dispatch', '-W', '.forgejo/workflows/gmail-reauth.yaml',
    '-P', 'operator-host=-self-hosted',
    '--input', `mode=${inputs.mode}`, '--input', `resume=${inputs.resume ?? false}`, '--input', `from=${inputs.from ?? 'start'}`,
    '--env', `HOME=${home}`, '--env', `KUBECONFIG=${jobKubeconfig}`,
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
  ]
  const r = spawnSync(toolPath('act'), args, { cwd: checkout, encoding: 'utf8', timeout: 300_000 })
  return { status: r.status, log: r.stdout + r.stderr }
}

beforeAll(async () => {
  await applyFixtures(admin)
  await applyManifestFiles(admin, DEPLOY_MANIFESTS)
  jobKubeconfig = await saKubeconfig(admin, WORKFLOW_SA.namespace, WORKFLOW_SA.name)
  checkout = scratchCheckout()
  home = mkdtempSync(join(runDir, 'operator-home-'))
  mkdirSync(join(home, 'secrets/google-oauth'), { recursive: true })
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(admin)
  core = kc.makeApiClient(k8s.CoreV1Api)
})

describe('dispatching gmail-reauth on the operator-host runner', () => {
  it('mode=dry-run (the default) changes nothing', async () => {
    const { endpoints } = await mintTokenFile(join(home, 'secrets/google-oauth/gmail-westsidebasktball.json'))
    const before = await core.readNamespacedSecret({ name: FIXTURE.secret, namespace: FIXTURE.namespace })
    const r = dispatch({ mode: 'dry-run' }, setEndpoints(endpoints))
    expect(r.status, r.log).toBe(0)
    const after = await core.readNamespacedSecret({ name: FIXTURE.secret, namespace: FIXTURE.namespace })
    expect(after.metadata!.uid).toBe(before.metadata!.uid)
  })

  it('mode=apply recreates the Secret, deletes the stale one and restarts basketball-api', async () => {
    const { endpoints } = await mintTokenFile(join(home, 'secrets/google-oauth/gmail-westsidebasktball.json'))
    const before = await core.readNamespacedSecret({ name: FIXTURE.secret, namespace: FIXTURE.namespace })
    const r = dispatch({ mode: 'apply' }, setEndpoints(endpoints))
    expect(r.status, r.log).toBe(0)
    const after = await core.readNamespacedSecret({ name: FIXTURE.secret, namespace: FIXTURE.namespace })
    expect(after.metadata!.uid).not.toBe(before.metadata!.uid)
    await expect(core.readNamespacedSecret({ name: FIXTURE.staleSecret, namespace: FIXTURE.namespace })).rejects.toMatchObject({ code: 404 })
  })

  it('fails with the SSH runbook in the log when consent is needed, and changes nothing', async () => {
    writeFileSync(join(home, 'secrets/google-oauth/gmail-westsidebasktball.json'), '{"type":"authorized_user","refresh_token":"revoked"}')
    const r = dispatch({ mode: 'apply' })
    expect(r.status).not.toBe(0)
    expect(r.log).toContain('ssh -t')
    expect(r.log).toContain('scripts/gmail-reauth.sh')
  })
})

/** Workflow params for the stand-in's endpoints, as the engine reads them: CREDFLOW_SET_<PARAM>. */
function setEndpoints(e: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [`CREDFLOW_SET_${k.toUpperCase()}`, v]))
}
