/**
 * One measured run of a command, and the statistics over many. Wall time is taken here; CPU
 * (user + system) and peak RSS come from GNU time, i.e. from wait4's resource usage of the
 * child and every descendant it waited for (bash's kubectl, curl and jq included). The child
 * runs asynchronously: the Google stand-in and the request-counting proxy live in this process.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const GNU_TIME = '/usr/bin/time'

export interface Sample {
  wallMs: number
  cpuMs: number
  /** Largest resident set of any process in the tree, MB. */
  rssMb: number
}

export interface RunOutput extends Sample {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunSpec {
  argv: string[]
  cwd: string
  env: NodeJS.ProcessEnv
  /** Called with each complete stdout line as it arrives (performance.now() timestamp). */
  onLine?: (line: string, at: number) => void
  timeoutMs?: number
}

const scratch = mkdtempSync(join(tmpdir(), 'credflow-bench-time-'))
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }))
let seq = 0

export function requireGnuTime(): void {
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} (GNU time) is needed for CPU and RSS: apt-get install time`)
}

export function measure(spec: RunSpec): Promise<RunOutput> {
  const out = join(scratch, `${++seq}.txt`)
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(GNU_TIME, ['-f', '%U %S %M', '-o', out, ...spec.argv], { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let partial = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      const at = performance.now()
      stdout += c
      const lines = (partial + c).split('\n')
      partial = lines.pop() ?? ''
      for (const l of lines) spec.onLine?.(l, at)
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs ?? 300_000)
    child.on('error', reject)
    child.on('close', (code) => {
      const wallMs = performance.now() - t0
      clearTimeout(timer)
      // GNU time prints "Command exited with non-zero status N" first when it did.
      const last = readFileSync(out, 'utf8').trim().split('\n').pop() ?? ''
      rmSync(out, { force: true })
      const [u, s, kb] = last.split(' ').map(Number)
      resolve({ code, stdout, stderr, wallMs, cpuMs: (u + s) * 1000, rssMb: kb / 1024 })
    })
  })
}

export interface Stats {
  n: number
  median: number
  min: number
  max: number
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  return { n: s.length, median: mid, min: s[0], max: s[s.length - 1] }
}

export function loadAverage(): string {
  return existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : 'n/a'
}
