/**
 * The real public Python clients (python/requirements.txt, installed by scripts/python-clients.sh
 * in npm test's pretest and in .ci/run) as child processes with a deadline, acting on what they
 * print like an operator would: the consent URL is visited as the browser, and the redirect is
 * delivered to the client's own loopback listener.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { consentRedirect } from '../oauth-server/index.ts'

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const PY_DIR = join(ROOT, 'test/python')

/** The venv's python; fails (never skips) when the setup did not install it. */
export function venvPython(): string {
  const dir = execFileSync('bash', [join(ROOT, 'scripts/python-clients.sh'), '--print-dir'], { encoding: 'utf8', timeout: 30_000 }).trim()
  const python = join(dir, 'bin/python')
  if (!existsSync(python)) throw new Error(`${python} is missing: run bash scripts/python-clients.sh (npm test's pretest does)`)
  return python
}

export interface PyResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface PyRun {
  done: Promise<PyResult>
  /** Resolves with the first match of `pattern` in stdout + stderr. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>
}

/** Runs `argv` (python or a script), killed after `timeoutMs`: a hang is a failure, not a stuck suite. */
export function runPython(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): PyRun {
  const timeoutMs = opts.timeoutMs ?? 30_000
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, PYTHONUNBUFFERED: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const waiters: Array<() => void> = []
  const feed = () => waiters.forEach((w) => w())
  child.stdout.setEncoding('utf8').on('data', (c: string) => ((out += c), feed()))
  child.stderr.setEncoding('utf8').on('data', (c: string) => ((err += c), feed()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise<PyResult>((res) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      feed()
      res({ code, stdout: out, stderr: err + (code === null ? `\n[killed after ${timeoutMs} ms]` : '') })
    }),
  )
  let closed = false
  void done.then(() => (closed = true))
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((res, rej) => {
      const check = () => {
        const m = pattern.exec(out + err)
        if (m) return res(m)
        if (closed) rej(new Error(`${argv.join(' ')} exited without printing ${pattern}:\n${out}\n${err}`))
      }
      waiters.push(check)
      check()
    })
  return { done, waitFor }
}

/** The operator's browser: open the consent URL, follow Google's redirect to the client's listener. */
export async function playBrowser(consentUrl: string): Promise<string> {
  const location = await consentRedirect(consentUrl)
  // The clients bind IPv4 loopback; a laptop's browser reaches it through the tunnel the same way.
  const res = await fetch(location.replace('//localhost:', '//127.0.0.1:'))
  await res.text()
  return location
}

/**
 * The gmail-sdk listens on the fixed port 8090: one holder at a time across every checkout and
 * test run on this machine (a directory lock with the holder's pid; a dead holder's lock is taken over).
 */
export async function withSdkPort<T>(fn: () => Promise<T>, waitMs = 120_000): Promise<T> {
  const lock = join(tmpdir(), 'credflow-gmail-sdk-port-8090.lock')
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      break
    } catch {
      const pid = Number(safeRead(join(lock, 'pid')))
      if (pid && !alive(pid)) rmSync(lock, { recursive: true, force: true })
      else if (Date.now() > deadline) throw new Error(`port 8090 lock ${lock} held by pid ${pid} for ${waitMs} ms`)
      else await sleep(200)
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8')
  } catch {
    return ''
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
