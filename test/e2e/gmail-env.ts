/**
 * A sandbox for running the real gmail-reauth workflow end to end: the Google stand-in with
 * a Testing-mode Desktop client and the westsidebasketball account, a temp home for the
 * token file, client secrets and run state, and a runner for the real CLI (a child process,
 * exactly as operators run it). The control plane comes from the caller.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startGoogleStandIn, consentRedirect, type GoogleStandIn, type ClientRecord } from '../oauth-server/index.ts'

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const ACCOUNT = 'westsidebasketball@gmail.com'
export const SCOPES = ['send', 'readonly', 'modify', 'labels'].map((s) => `https://www.googleapis.com/auth/gmail.${s}`)
const AUTH_URL = /(https?:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/v2\/auth\?\S+)/

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface GmailEnv {
  standIn: GoogleStandIn
  client: ClientRecord
  dir: string
  tokenFile: string
  clientSecretsFile: string
  stateDir: string
  kubeconfig: string
  /** The --set flags pointing the workflow at this sandbox. */
  sets(extra?: Record<string, string>): string[]
  /** Run `node tasks/run.mjs gmail-reauth <args>`; `browser` answers consent URLs it prints. */
  run(args: string[], opts?: RunOptions): Promise<RunResult>
  spawn(args: string[], opts?: RunOptions): { child: ChildProcess; done: Promise<RunResult> }
  close(): Promise<void>
}

export interface RunOptions {
  env?: Record<string, string>
  /** Act as the operator's browser: visit the consent URL and follow the redirect to the loopback. */
  browser?: 'loopback' | 'paste' | false
  stdin?: string
  onOutput?: (chunk: string) => void
}

export async function startGmailEnv(opts: { kubeconfig: string; autoApprove?: boolean; testing?: boolean }): Promise<GmailEnv> {
  const standIn = await startGoogleStandIn({ autoApprove: opts.autoApprove ?? true, account: { email: ACCOUNT } })
  const client = standIn.control.registerClient({ testing: opts.testing ?? true, type: 'installed' })
  const dir = mkdtempSync(join(tmpdir(), 'credflow-e2e-'))
  const tokenFile = join(dir, 'secrets', 'google-oauth', 'gmail-westsidebasktball.json')
  mkdirSync(join(dir, 'secrets', 'google-oauth'), { recursive: true, mode: 0o700 })
  const clientSecretsFile = join(dir, 'client_secret.json')
  writeFileSync(
    clientSecretsFile,
    JSON.stringify({ installed: { client_id: client.id, client_secret: client.secret, project_id: client.projectId, auth_uri: standIn.endpoints.authUrl, token_uri: standIn.endpoints.tokenUrl, redirect_uris: ['http://localhost'] } }),
    { mode: 0o600 },
  )
  const stateDir = join(dir, 'state')
  const e = standIn.endpoints
  const sets = (extra: Record<string, string> = {}) =>
    Object.entries({
      tokenFile,
      clientSecretsFile,
      kubeconfig: opts.kubeconfig,
      authUrl: e.authUrl,
      tokenUrl: e.tokenUrl,
      tokeninfoUrl: e.tokeninfoUrl,
      gmailProfileUrl: e.gmailProfileUrl,
      reauthMode: 'builtin',
      loopbackPort: '0',
      rolloutTimeout: '90s',
      ...extra,
    }).flatMap(([k, v]) => ['--set', `${k}=${v}`])

  const spawnRun = (args: string[], ro: RunOptions = {}) => {
    const child = spawn(process.execPath, [join(ROOT, 'tasks/run.mjs'), 'gmail-reauth', ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', NO_COLOR: '1', CREDFLOW_STATE_DIR: stateDir, KUBECONFIG: opts.kubeconfig, ...ro.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let answered = false
    const onChunk = (chunk: string) => {
      ro.onOutput?.(chunk)
      const m = AUTH_URL.exec(stdout + stderr)
      if (!m || answered || !ro.browser) return
      answered = true
      void consentRedirect(m[1]).then(async (location) => {
        if (ro.browser === 'paste') child.stdin!.write(location + '\n')
        else await fetch(location).then((r) => r.text())
      })
    }
    child.stdout!.setEncoding('utf8').on('data', (c: string) => ((stdout += c), onChunk(c)))
    child.stderr!.setEncoding('utf8').on('data', (c: string) => ((stderr += c), onChunk(c)))
    if (ro.stdin !== undefined) child.stdin!.end(ro.stdin)
    else if (!ro.browser) child.stdin!.end()
    const done = new Promise<RunResult>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })))
    return { child, done }
  }

  return {
    standIn,
    client,
    dir,
    tokenFile,
    clientSecretsFile,
    stateDir,
    kubeconfig: opts.kubeconfig,
    sets,
    spawn: spawnRun,
    run: (args, ro) => spawnRun(args, ro).done,
    close: async () => {
      await standIn.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
