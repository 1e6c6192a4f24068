/**
 * A sandbox for running the real gmail-reauth workflow end to end: the Google stand-in with
 * a Testing-mode Desktop client and the westsidebasketball account, a temp home for the
 * token file, client secrets and run state, and a runner for the real CLI (a child process,
 * exactly as operators run it). The control plane comes from the caller.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startGoogleStandIn, consentRedirect, type GoogleStandIn, type ClientRecord, type Clock } from '../oauth-server/index.ts'
import { obtainTokens } from '../oauth-server/scripted.ts'
import { credentialsToJson } from '../fixtures/gmail/fake-gmail-mcp.mjs'
import type { RunState } from '../../lib/engine/state.ts'

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const ACCOUNT = 'westsidebasketball@gmail.com'
export const SCOPES = ['send', 'readonly', 'modify', 'labels'].map((s) => `https://www.googleapis.com/auth/gmail.${s}`)
/** A stand-in for the upstream `gmail-mcp reauth` (external mode). */
export const FAKE_GMAIL_MCP = join(ROOT, 'test/fixtures/gmail/fake-gmail-mcp.mjs')
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
  spawn(args: string[], opts?: RunOptions): RunningCli
  /** stdout and stderr of every finished run, for leak scans. */
  readonly transcripts: string[]
  /**
   * Write a working token file without the product: consent through the stand-in as `email`
   * (default the expected account) and store google-auth's Credentials.to_json(), or with
   * `format: 'gmail-sdk'` the raw token response (no client id or secret in the file).
   */
  seedTokenFile(opts?: { email?: string; scopes?: string[]; format?: 'google-auth' | 'gmail-sdk' }): Promise<Buffer>
  /** The recorded runs of gmail-reauth, oldest first. */
  runs(): RunState[]
  /** Every file under the state directory: path -> content. */
  stateFiles(): Record<string, string>
  /** A reauthCommand running the fake `gmail-mcp reauth` against this sandbox. */
  fakeGmailMcpCommand(extra?: string[]): string
  close(): Promise<void>
}

export interface RunningCli {
  child: ChildProcess
  done: Promise<RunResult>
  /** Resolves when stdout + stderr so far match `pattern`; rejects if the CLI exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
}

export interface RunOptions {
  env?: Record<string, string>
  /** Act as the operator's browser: visit the consent URL and follow the redirect to the loopback. */
  browser?: 'loopback' | 'paste' | false
  stdin?: string
  onOutput?: (chunk: string) => void
}

export async function startGmailEnv(opts: { kubeconfig: string; autoApprove?: boolean; testing?: boolean; clock?: Clock }): Promise<GmailEnv> {
  const standIn = await startGoogleStandIn({ autoApprove: opts.autoApprove ?? true, account: { email: ACCOUNT }, clock: opts.clock })
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

  const transcripts: string[] = []
  const spawnRun = (args: string[], ro: RunOptions = {}): RunningCli => {
    const child = spawn(process.execPath, [join(ROOT, 'tasks/run.mjs'), 'gmail-reauth', ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', NO_COLOR: '1', CREDFLOW_STATE_DIR: stateDir, KUBECONFIG: opts.kubeconfig, ...ro.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let answered = false
    const watchers = new Set<() => void>()
    const onChunk = (chunk: string) => {
      ro.onOutput?.(chunk)
      for (const w of watchers) w()
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
    child.stdin!.on('error', () => {}) // a killed CLI closes its stdin under a pending paste
    if (ro.stdin !== undefined) child.stdin!.end(ro.stdin)
    else if (!ro.browser) child.stdin!.end()
    const done = new Promise<RunResult>((res) =>
      child.on('close', (code, signal) => {
        transcripts.push(stdout, stderr)
        res({ code, signal, stdout, stderr })
      }),
    )
    const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
      new Promise<RegExpExecArray>((res, rej) => {
        let settled = false
        const check = () => {
          const m = pattern.exec(stdout + stderr)
          if (m) finish(undefined, m)
        }
        const finish = (err?: Error, m?: RegExpExecArray) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          watchers.delete(check)
          if (m) res(m)
          else rej(err)
        }
        const timer = setTimeout(() => finish(new Error(`no output matching ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs)
        watchers.add(check)
        void done.then(() => finish(new Error(`the CLI exited (before printing ${pattern}):\n${stdout}\n${stderr}`)))
        check()
      })
    return { child, done, waitFor }
  }

  const seedTokenFile: GmailEnv['seedTokenFile'] = async (o = {}) => {
    const scopes = o.scopes ?? SCOPES
    standIn.control.setAccount({ email: o.email ?? ACCOUNT })
    try {
      const r = await obtainTokens(standIn, client, scopes)
      if (r.status !== 200) throw new Error(`seeding a token: HTTP ${r.status} ${r.text}`)
      const tokens = r.json as { access_token: string; refresh_token: string; expires_in: number; scope: string; token_type: string }
      const text =
        o.format === 'gmail-sdk'
          ? // the gmail SDK's shape (json.dump(token, indent=2) with expires_at added), no client fields
            JSON.stringify({ ...tokens, expires_at: Date.now() / 1000 + tokens.expires_in }, null, 2)
          : credentialsToJson({ tokens, clientId: client.id, clientSecret: client.secret, scopes })
      writeFileSync(tokenFile, text, { mode: 0o600 })
      return Buffer.from(text)
    } finally {
      standIn.control.setAccount({ email: ACCOUNT })
    }
  }

  const runsDir = join(stateDir, 'gmail-reauth', 'runs')
  const runs = () =>
    existsSync(runsDir)
      ? readdirSync(runsDir)
          .map((id) => join(runsDir, id, 'state.json'))
          .filter((f) => existsSync(f))
          .sort((a, b) => statSync(a).birthtimeMs - statSync(b).birthtimeMs || a.localeCompare(b))
          .map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunState)
      : []
  const stateFiles = () => {
    const out: Record<string, string> = {}
    const walk = (d: string) => {
      if (!existsSync(d)) return
      for (const ent of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, ent.name)
        if (ent.isDirectory()) walk(p)
        else if (ent.isFile()) out[p] = readFileSync(p, 'utf8')
      }
    }
    walk(stateDir)
    return out
  }
  const fakeGmailMcpCommand = (extra: string[] = []) =>
    [process.execPath, FAKE_GMAIL_MCP, 'reauth', '--token-file', tokenFile, '--client-secrets', clientSecretsFile, '--auth-url', e.authUrl, '--token-url', e.tokenUrl, ...extra].join(' ')

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
    transcripts,
    seedTokenFile,
    runs,
    stateFiles,
    fakeGmailMcpCommand,
    close: async () => {
      await standIn.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

