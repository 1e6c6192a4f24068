/**
 * The hostile-input suite's shape: each case is what a careless or hostile operator does,
 * the exit code it must get, and the key phrases the message must say. The same tables drive
 * the tests (test/unit/hostile-local.test.ts, test/integration/hostile-plane.test.ts) and the
 * "Hostile input" section of docs/reliability.md (test/unit/hostile-doc.test.ts keeps it equal).
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ROOT } from '../fixtures/engine/harness.ts'

/** The seven classes of issue 12. */
export const CLASSES = {
  1: 'cross-input and cluster facts, judged before any write',
  2: 'every wait bounded and named',
  3: 'durations and numbers checked at parse time',
  4: 'files are what they claim to be; signals end cleanly',
  5: 'the state directory never produces a stack trace',
  6: '--resume after a usage error',
  7: 'one exit-code table',
} as const
export type CaseClass = keyof typeof CLASSES

export interface CaseRun {
  args: string[]
  env?: Record<string, string>
  /** Send this signal once the output matches `after` (or after `afterMs`). */
  signal?: { name: NodeJS.Signals; after?: RegExp; afterMs?: number }
  /** Stdin: closed by default; 'open' keeps it open (a terminal-less operator who has not typed yet). */
  stdin?: 'open'
  /** A hard deadline for this case (default 30 s): a hang is a failure, not a timeout of the suite. */
  deadlineMs?: number
  /** Run as this user (a root test run proving what a non-root operator sees). */
  uid?: number
  gid?: number
  /** The CLI (default) or the wrapper script. */
  bin?: 'cli' | 'wrapper'
}

export interface HostileCase<S> {
  id: string
  cls: CaseClass
  /** What the operator did, as docs/reliability.md shows it. */
  did: string
  exit: number
  /** Key phrases of the message (stdout + stderr), in any order. */
  says: Array<string | RegExp>
  /** Phrases that must not appear. */
  never?: Array<string | RegExp>
  /** Put the sandbox in the hostile state (before the "nothing changed" snapshot), return the run. */
  run(s: S): CaseRun | Promise<CaseRun>
  /** Paths (relative to the sandbox) the case may change, e.g. the state of a run it starts. */
  mayChange?: string[]
  /** Extra assertions on the outcome. */
  check?(s: S, out: Outcome): void | Promise<void>
  /** Put back what `run` changed in a shared world (the plane), whatever the outcome. */
  after?(s: S): void | Promise<void>
  /**
   * A local case run on the real plane too (test/integration/hostile-local-on-plane.test.ts):
   * 'own' when its point is a server that refuses or never answers, so it keeps that kubeconfig
   * and the plane must see none of its requests.
   */
  cluster?: 'own'
  /** What a reachable cluster changes in the outcome (stated, never derived from the output). */
  onPlane?: { exit: number; says: Array<string | RegExp>; never?: Array<string | RegExp> }
  /** The case starts a real run: it takes and gives back the workflow's Lease (its lock), the one write it may send. */
  takesLock?: boolean
}

export interface Outcome {
  code: number | null
  signal: NodeJS.Signals | null
  text: string
  stdout: string
  stderr: string
  ms: number
}

const RUN_MJS = join(ROOT, 'tasks/run.mjs')
const WRAPPER = join(ROOT, 'scripts/gmail-reauth.sh')

/**
 * This Node for a case run as another user: the cached binary lives under root's 0700 home,
 * so it is hard-linked (copied on another filesystem) once into a directory anyone may enter.
 */
function nodeForOtherUsers(): string {
  const dir = join(tmpdir(), `credflow-node-${process.version}`)
  const node = join(dir, 'node')
  if (existsSync(node)) return node
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  const tmp = `${node}.${process.pid}`
  try {
    linkSync(process.execPath, tmp)
  } catch {
    copyFileSync(process.execPath, tmp)
  }
  renameSync(tmp, node) // atomic: another suite may do the same at once
  return node
}

/** Runs the real CLI as a child process, killed (and reported as a hang) at the deadline. */
export function runCase(run: CaseRun, baseEnv: Record<string, string>): Promise<Outcome> {
  const started = Date.now()
  const node = run.uid === undefined ? process.execPath : nodeForOtherUsers()
  const argv = run.bin === 'wrapper' ? ['/bin/bash', WRAPPER, ...run.args] : [node, RUN_MJS, ...run.args]
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...baseEnv, ...run.env }, stdio: ['pipe', 'pipe', 'pipe'], uid: run.uid, gid: run.gid })
  let stdout = ''
  let stderr = ''
  let signalled = false
  const maybeSignal = () => {
    if (!run.signal || signalled) return
    if (run.signal.after && run.signal.after.test(stdout + stderr)) {
      signalled = true
      child.kill(run.signal.name)
    }
  }
  child.stdout!.setEncoding('utf8').on('data', (d: string) => ((stdout += d), maybeSignal()))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => ((stderr += d), maybeSignal()))
  child.stdin!.on('error', () => {})
  if (run.stdin !== 'open') child.stdin!.end()
  const timers: NodeJS.Timeout[] = []
  if (run.signal?.afterMs !== undefined) timers.push(setTimeout(() => ((signalled = true), child.kill(run.signal!.name)), run.signal.afterMs))
  const deadline = run.deadlineMs ?? 30_000
  let hung = false
  timers.push(setTimeout(() => ((hung = true), child.kill('SIGKILL')), deadline))
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t)
      child.stdin!.destroy()
      const text = stdout + stderr + (hung ? `\n[HANG: killed after ${deadline} ms]` : '')
      resolve({ code: hung ? null : code, signal, text, stdout, stderr, ms: Date.now() - started })
    }),
  )
}

/** Type, mode and sha256 of everything under `dir` (FIFOs and devices by type only: never opened). */
export function fileSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      const st = lstatSync(p)
      const key = relative(dir, p)
      const mode = (st.mode & 0o7777).toString(8)
      if (st.isDirectory()) {
        out[key + '/'] = `dir ${mode}`
        walk(p)
      } else if (st.isFile()) out[key] = `file ${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`
      else out[key] = `${st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : 'other'} ${mode}`
    }
  }
  if (existsSync(dir)) walk(dir)
  return out
}

type Expected = Pick<HostileCase<unknown>, 'exit' | 'says' | 'never'>

/** What a local case must answer when its cluster is the real plane: its own expectation unless it states another. */
export const onPlane = (c: HostileCase<unknown>): Expected => c.onPlane ?? c

/** The message assertions every case shares: the exit code, each phrase, no stack trace, no hang. */
export function expectations(c: Expected, o: Outcome): string[] {
  const problems: string[] = []
  if (o.text.includes('[HANG')) problems.push('hung until the deadline')
  if (o.code !== c.exit) problems.push(`exit ${o.code} (signal ${o.signal}), expected ${c.exit}`)
  for (const p of c.says) if (!(typeof p === 'string' ? o.text.includes(p) : p.test(o.text))) problems.push(`does not say ${String(p)}`)
  for (const p of c.never ?? []) if (typeof p === 'string' ? o.text.includes(p) : p.test(o.text)) problems.push(`says ${String(p)}`)
  // A stack trace: "    at fn (file:line:col)" frames, or Node's own "Error: ..." dump with them.
  if (/^\s+at .+:\d+:\d+\)?$/m.test(o.text)) problems.push('prints a stack trace')
  return problems
}

/** The docs row of a case: the phrases as they read (regexes by their source, unescaped a little). */
export function docRow(c: HostileCase<unknown>, where: 'unit' | 'plane'): string {
  const phrase = (p: string | RegExp) => (typeof p === 'string' ? p : p.source.replace(/\\([.()[\]/?*+])/g, '$1'))
  const says = (ps: Array<string | RegExp>) => ps.map((p) => `“${phrase(p).replace(/\|/g, '\\|')}”`).join(', ')
  const plane = c.cluster === 'own' ? 'its own server (the plane not asked)' : c.onPlane ? `exit ${c.onPlane.exit}: ${says(c.onPlane.says)}` : 'the same'
  return `| ${c.id} | ${c.cls} | ${c.did.replace(/\|/g, '\\|')} | ${c.exit} | ${says(c.says)} | ${where} | ${plane} |`
}
