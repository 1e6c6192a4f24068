import { spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** A child we started, with its log file: all the harness needs to report on it and stop it. */
export interface Component {
  name: string
  pid: number
  logFile: string
  child: ChildProcess
  /** Set once the process has exited (code or signal). */
  exited?: string
}

/** Spawn `bin args` with stdout and stderr appended to `logFile`, never inheriting ours. */
export function startComponent(name: string, bin: string, args: string[], logFile: string): Component {
  const fd = openSync(logFile, 'a', 0o600)
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] })
  closeSync(fd) // the child holds its own copy
  const c: Component = { name, pid: child.pid ?? -1, logFile, child }
  child.on('exit', (code, signal) => (c.exited = signal ? `signal ${signal}` : `exit code ${code}`))
  child.on('error', (e) => (c.exited = `spawn error: ${e.message}`)) // e.g. ENOENT; waitUntil reports it
  return c
}

/** SIGTERM by pid, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopComponent(c: Component, graceMs = 10_000): Promise<void> {
  if (c.exited || c.pid < 0) return
  const gone = new Promise<void>((resolve) => c.child.once('exit', () => resolve()))
  signal(c.pid, 'SIGTERM')
  const timer = setTimeout(() => signal(c.pid, 'SIGKILL'), graceMs)
  await gone
  clearTimeout(timer)
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e
  }
}

/** Last `lines` lines of a log file, for failure messages. */
export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return '(no log)'
  const text = readFileSync(file, 'utf8').trimEnd()
  return text ? text.split('\n').slice(-lines).join('\n') : '(log is empty)'
}

/** A currently free TCP port on 127.0.0.1 (the OS picks it; we release it just before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Poll `probe` until it returns true. Fails early if the component died, and on timeout;
 * both failures carry the tail of the component's log.
 */
export async function waitUntil(
  c: Component,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    if (c.exited) throw componentError(c, `exited (${c.exited}) before ${what}`)
    try {
      if (await probe()) return
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : ''
      throw componentError(c, `not ${what} after ${timeoutMs / 1000}s${why}`)
    }
    await sleep(intervalMs)
  }
}

export function componentError(c: Component, problem: string): Error {
  return new Error(`${c.name} ${problem}\n--- last lines of ${c.logFile} ---\n${tail(c.logFile)}\n---`)
}
