// CI executes .forgejo/workflows/gmail-reauth.yaml for real, on this host, against the test
// control plane: act runs the job with `-P operator-host=-self-hosted` (what a forgejo-runner
// with the host label `operator-host:host` does) and the dispatch inputs as `--input`, as the
// workflow's ServiceAccount (deploy/rbac.yaml, a TokenRequest token) and the Google stand-in.
//
// Every step runs as written: actions/checkout@v4 is act's local checkout (it copies the
// workdir, .gitignore'd files left out, and fetches nothing), `npm ci` really installs into the
// job's scratch directory (from the warm npm cache: npm_config_prefer_offline), then
// scripts/gmail-reauth.sh --non-interactive and, on failure, the Runbook step. The sandbox
// reaches the job only through the runner's environment (act --env-file: CREDFLOW_SET_*,
// CREDFLOW_STATE_DIR, KUBECONFIG) and a repository variable (--var OPERATOR_HOST), never
// through the workflow file.
//
// forgejo-runner itself cannot be built here (code.forgejo.org is not on the Go proxy
// allowlist), and `forgejo-runner exec` could not pass dispatch inputs anyway; act can.
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { FIXTURE, FIXTURE_TOKEN_JSON, resetFixtures } from '../k8s/fixtures.ts'
import { startGmailEnv, type GmailEnv } from '../e2e/gmail-env.ts'
import { clusterView, type ClusterView } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'
import { DAY } from '../oauth-server/index.ts'
import {
  applyManifestFiles, deleteManifestFiles, DEPLOY_MANIFESTS, saKubeconfig, SECRET_CREATE_POLICY, waitForSecretCreatePolicy, WORKFLOW_SA,
} from '../ops/cluster.ts'
import { REPO_ROOT, toolPath } from '../ops/tools.ts'

const admin = inject('kubeconfig')
const runDir = inject('runDir')
const ns = FIXTURE.namespace
const OPERATOR_HOST = 'ops-host.example.test'
const JOB_TIMEOUT_MS = 150_000

let env: GmailEnv
let view: ClusterView
let checkout: string
let envFile: string
let actCache: string

/**
 * A throwaway repository holding the working tree's tracked files, committed, as act's workdir:
 * act takes the `github` context (sha, ref) from it and its local checkout copies it.
 */
function scratchCheckout(): string {
  const dir = mkdtempSync(join(runDir, 'forgejo-checkout-'))
  const files = spawnSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean)
  for (const f of files) {
    if (!existsSync(join(REPO_ROOT, f))) continue // deleted in the working tree, not yet committed
    mkdirSync(dirname(join(dir, f)), { recursive: true })
    copyFileSync(join(REPO_ROOT, f), join(dir, f))
  }
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=credflow-tests', '-c', 'user.email=tests@credflow.invalid', ...args], { cwd: dir, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  }
  git('init', '-q', '-b', 'main')
  git('add', '-A')
  git('commit', '-q', '-m', 'snapshot of the working tree for act')
  return dir
}

/** The runner host's environment: the sandbox's params as CREDFLOW_SET_<PARAM> (what --set does). */
function runnerEnv(): string {
  const sets = env.sets()
  const vars: Record<string, string> = {}
  for (let i = 0; i < sets.length; i += 2) {
    const [key, value] = sets[i + 1].split(/=(.*)/s)
    // Consent is never attempted non-interactively: keep the workflow's own reauth settings.
    if (key === 'reauthMode' || key === 'loopbackPort') continue
    vars[`CREDFLOW_SET_${key.toUpperCase()}`] = value
  }
  Object.assign(vars, {
    KUBECONFIG: env.kubeconfig, // for scripts/gmail-reauth.sh's pre-check (kubectl or client-node)
    CREDFLOW_STATE_DIR: env.stateDir,
    // The operator host installs from its npm cache; no registry round trips for what it holds.
    npm_config_prefer_offline: 'true',
  })
  const path = join(env.dir, 'runner.env')
  writeFileSync(path, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 })
  return path
}

interface JobResult {
  status: number | null
  log: string
}

/** `act workflow_dispatch` of the workflow with these inputs; resolves when act exits. */
function dispatch(inputs: { mode: 'dry-run' | 'apply'; resume?: boolean; from?: string }): Promise<JobResult> {
  return act(['workflow_dispatch', '-W', '.forgejo/workflows/gmail-reauth.yaml',
    '--input', `mode=${inputs.mode}`, '--input', `resume=${inputs.resume ?? false}`, '--input', `from=${inputs.from ?? 'start'}`])
}

/** The daily cron of gmail-token-status.yaml, as the scheduler fires it (`act schedule`). */
const scheduledStatus = () => act(['schedule', '-W', '.forgejo/workflows/gmail-token-status.yaml'])

async function act(event: string[]): Promise<JobResult> {
  const args = [
    ...event,
    '-P', 'operator-host=-self-hosted',
    '--var', `OPERATOR_HOST=${OPERATOR_HOST}`,
    '--env-file', envFile,
    '--action-cache-path', actCache, // host workdirs go here (removed by act after the job)
    '--container-daemon-socket', '-', // no Docker: the job runs on the host
    '--no-cache-server', // the workflow uses no actions/cache; do not start act's cache server
  ]
  const bin = toolPath('act') // a missing act fails each test (not a skip) with the command to run
  // A runner service's environment: little besides PATH and HOME (the npm cache lives there).
  const child = spawn(bin, args, { cwd: checkout, env: { PATH: process.env.PATH, HOME: process.env.HOME }, detached: true })
  let log = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d))
  // Stop act and the job's processes (its own process group) if the job hangs.
  const timer = setTimeout(() => {
    log += `\n[test] act still running after ${JOB_TIMEOUT_MS / 1000}s: killed\n`
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {}
  }, JOB_TIMEOUT_MS)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, log })
    })
  })
}

/** The lines a step printed (act prefixes them with `[workflow/job]   | `). */
const stepOutput = (log: string) =>
  log
    .split('\n')
    .filter((l) => l.includes('   | '))
    .map((l) => l.slice(l.indexOf('   | ') + 5))
    .join('\n')

beforeAll(async () => {
  await resetFixtures(admin)
  await applyManifestFiles(admin, DEPLOY_MANIFESTS)
  const saPath = await saKubeconfig(admin, WORKFLOW_SA.namespace, WORKFLOW_SA.name)
  await waitForSecretCreatePolicy(saPath)
  view = await clusterView(admin)
  env = await startGmailEnv({ kubeconfig: saPath })
  checkout = scratchCheckout()
  actCache = mkdtempSync(join(runDir, 'act-cache-'))
  envFile = runnerEnv()
}, 60_000)

afterAll(async () => {
  await env?.close()
  await deleteManifestFiles(admin, [SECRET_CREATE_POLICY])
  await resetFixtures(admin)
})

describe('dispatching gmail-reauth on the operator-host runner (act)', () => {
  it('mode=dry-run: the job succeeds, its log shows the planned changes, nothing changes', async () => {
    const token = await env.seedTokenFile()
    expect(token.equals(Buffer.from(FIXTURE_TOKEN_JSON))).toBe(false)
    const before = await view.snapshot()

    const job = await dispatch({ mode: 'dry-run' })

    expect(job.status, job.log).toBe(0)
    expect(job.log).toContain('Success - Main actions/checkout@v4')
    expect(job.log).toMatch(/Success - Main Install dependencies/)
    expect(job.log).toContain('Job succeeded')
    const out = stepOutput(job.log)
    expect(out).toContain('dry run of gmail-reauth: 8 node(s)') // CREDFLOW_DRY_RUN=1, from the mode input
    expect(out).toContain(`would replace Secret ${ns}/${FIXTURE.secret}`)
    expect(out).toContain(`would delete Secret ${ns}/${FIXTURE.staleSecret}`)
    expect(out).toContain(`would restart Deployment ${ns}/${FIXTURE.deployment}`)
    expect(out).toMatch(/dry run: nothing was changed/)
    expect(job.log).not.toContain('Main Runbook')
    expect(await view.snapshot()).toEqual(before)
    expect(existsSync(env.stateDir)).toBe(false)
  })

  it('mode=apply with a valid token: the job succeeds and the Secret holds the file bytes', async () => {
    const before = await view.snapshot()

    const job = await dispatch({ mode: 'apply' })

    expect(job.status, job.log).toBe(0)
    expect(stepOutput(job.log)).toMatch(/VERDICT: basketball-api\/gmail-oauth-token is live with the refreshed token/)
    const s = (await view.secret())!
    expect(s.metadata!.uid).not.toBe(before.secret!.uid)
    expect((await view.secretBytes())!.equals(readFileSync(env.tokenFile))).toBe(true)
    expect(await view.secret(FIXTURE.staleSecret)).toBeUndefined()
    const [run] = env.runs()
    expect(run.status).toBe('succeeded')
    expect(job.log).not.toContain('Main Runbook')
    // A CI log is kept and shared: no token, client secret or token file content in it.
    expect(findLeaks({ 'job log': job.log }, secretNeedles(env.standIn, [readFileSync(env.tokenFile)]))).toEqual([])
  })

  it('the daily status job (schedule): passes on a healthy token, fails loudly within a day of the deadline', async () => {
    const healthy = await scheduledStatus()
    expect(healthy.status, healthy.log).toBe(0)
    expect(stepOutput(healthy.log)).toMatch(/^healthy: expires in 6d 23h/m)
    expect(stepOutput(healthy.log)).toContain('token healthy')

    env.standIn.control.advance(6 * DAY + 2 * 3_600_000) // Google: 22 hours left
    const before = await view.snapshot()
    const soon = await scheduledStatus()
    expect(soon.status, soon.log).not.toBe(0)
    expect(soon.log).toContain('Success - Main Token status') // reports (its whole output is kept) ...
    expect(soon.log).toContain('Failure - Main Fail unless healthy') // ... and the next step fails the job with its code
    expect(soon.log).toMatch(/exit status 5/)
    const out = stepOutput(soon.log)
    expect(out).toMatch(/^EXPIRES IN 21h 5\dm \(\w{3} \d\d:\d\d UTC\): re-auth now$/m)
    expect(soon.log).toMatch(/::error::Gmail OAuth token EXPIRES within a day: re-auth today over SSH on ops-host\.example\.test/)
    expect(await view.snapshot()).toEqual(before) // read-only
  })

  it('a refresh token past the 7-day limit: the job fails with the SSH runbook and changes nothing', async () => {
    env.standIn.control.advance(2 * DAY) // past the 7 days with the test above: 8 days after the consent
    const before = await view.snapshot()
    const file = readFileSync(env.tokenFile)

    const job = await dispatch({ mode: 'apply' })

    expect(job.status, job.log).not.toBe(0)
    expect(job.log).toContain('Failure - Main Run gmail-reauth')
    expect(job.log).toContain('Job failed')
    const out = stepOutput(job.log)
    expect(out).toMatch(/reauth.*needs an operator at a terminal: the refresh token is expired or revoked \(invalid_grant\)/)
    // The engine's runbook for the default (built-in) consent: the tunnel for its loopback
    // port, and the operator's checkout, not the job's scratch copy (gone after the job).
    expect(out).toMatch(/ {2}1\. ssh -L 8765:127\.0\.0\.1:8765 \S+@\S+ /)
    expect(out).toContain('cd <your credflow checkout> && scripts/gmail-reauth.sh')
    expect(out).not.toContain('hostexecutor')
    // The Runbook step (if: failure()), with the repository variable for the host.
    expect(out).toContain(`ssh -t ${OPERATOR_HOST}`)
    expect(out).toContain('scripts/gmail-reauth.sh --dry-run')
    expect(out).toContain('dispatch again with resume=true')
    expect(await view.snapshot()).toEqual(before)
    expect(readFileSync(env.tokenFile)).toEqual(file)
  })
})
