// Start-up cost of the CLI: `npm run bench` (not a test; nothing here is timed by vitest).
// Median wall time over BENCH_RUNS (default 15) runs of each command, interleaved so a
// noisy neighbour hurts every command alike, and the overhead over bare `node -e ''`.
// Target: at most 300 ms over bare Node. `npm run bench -- --breakdown` also times the
// phases inside one start (importing zod, yaml, the engine).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const TARGET_MS = 300
const node = process.execPath
const zx = join(ROOT, 'node_modules/.bin/zx')
const state = mkdtempSync(join(tmpdir(), 'credflow-bench-'))
const env = { ...process.env, CREDFLOW_WORKFLOWS_DIR: join(ROOT, 'test/fixtures/engine/workflows'), CREDFLOW_STATE_DIR: join(state, 'state'), NO_COLOR: '1' }

interface Cmd {
  label: string
  argv: string[]
}
const commands: Cmd[] = [
  { label: "node -e ''", argv: [node, '-e', ''] },
  { label: 'node tasks/run.mjs --help', argv: [node, 'tasks/run.mjs', '--help'] },
  { label: 'zx tasks/run.mjs --help', argv: [zx, 'tasks/run.mjs', '--help'] },
  { label: 'node tasks/run.mjs noop7 --dry-run', argv: [node, 'tasks/run.mjs', 'noop7', '--dry-run'] },
  { label: 'zx tasks/run.mjs noop7 --dry-run', argv: [zx, 'tasks/run.mjs', 'noop7', '--dry-run'] },
]

/**
 * CPU time (user + system) of the children this process has waited for, in ms, from
 * /proc/self/stat (cutime, cstime; clock ticks of 10ms). Less sensitive than wall time
 * to other work on the machine. Undefined off Linux.
 */
function childCpuMs(): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[13]) + Number(f[14])) * 10 // fields 16 and 17, counted after the comm field
}

function once(c: Cmd): { wall: number; cpu?: number } {
  const c0 = childCpuMs()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(c.argv[0], c.argv.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const c1 = childCpuMs()
  if (r.status !== 0) throw new Error(`${c.label} exited ${r.status}: ${r.stderr}`)
  return { wall, cpu: c0 === undefined || c1 === undefined ? undefined : c1 - c0 }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function bench(): void {
  for (const c of commands) once(c) // warm the OS cache and the client-node bundle
  const wall = new Map<string, number[]>(commands.map((c) => [c.label, []]))
  const cpu = new Map<string, number[]>(commands.map((c) => [c.label, []]))
  for (let i = 0; i < RUNS; i++) {
    for (const c of commands) {
      const t = once(c)
      wall.get(c.label)!.push(t.wall)
      if (t.cpu !== undefined) cpu.get(c.label)!.push(t.cpu)
    }
  }
  const base = median(wall.get(commands[0].label)!)
  const cpuBase = cpu.get(commands[0].label)!.length ? median(cpu.get(commands[0].label)!) : undefined
  const w = Math.max(...commands.map((c) => c.label.length))
  const row = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(w) : x.padStart(9))).join('  ')
  const ms = (n: number) => `${n.toFixed(0)}ms`
  console.log(`credflow start-up, median of ${RUNS} runs (node ${process.version}, load average ${loadavg()})\n`)
  console.log(row(['COMMAND', 'MEDIAN', 'MIN', 'MAX', 'OVERHEAD', 'TARGET', 'CPU', 'CPU OVER']))
  for (const c of commands) {
    const t = wall.get(c.label)!
    const over = median(t) - base
    const first = c === commands[0]
    const cp = cpu.get(c.label)!
    const cpuCells = cpuBase === undefined ? ['-', '-'] : [ms(median(cp)), first ? '-' : `+${ms(median(cp) - cpuBase)}`]
    console.log(row([c.label, ms(median(t)), ms(Math.min(...t)), ms(Math.max(...t)), first ? '-' : `+${ms(over)}`, first ? '' : Math.round(over) <= TARGET_MS ? 'ok' : 'OVER', ...cpuCells]))
  }
  console.log(`\noverhead = median wall time - that of bare node; target: <= ${TARGET_MS}ms.`)
  console.log('CPU = user+system time of the process and its threads (10ms ticks): steadier than wall time on a busy machine.')
}

function loadavg(): string {
  return existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : 'n/a'
}

/** Phases of one start, as tasks/run.mjs does them, measured inside a fresh process. */
function breakdown(): void {
  const script = `
    const t = [performance.now()]
    await import('zod'); t.push(performance.now())
    await import('yaml'); t.push(performance.now())
    await import('./lib/engine/cli.ts'); t.push(performance.now())
    await import('./test/fixtures/engine/tasks/demo/noop.ts'); t.push(performance.now())
    console.log(JSON.stringify(t.slice(1).map((x, i) => x - t[i])))`
  const phases = [
    'import zod',
    'import yaml',
    'import lib/engine/cli.ts (type stripping)',
    'import a step (demo/noop.ts)',
  ]
  const samples: number[][] = []
  for (let i = 0; i < Math.max(5, Math.floor(RUNS / 2)); i++) {
    const r = spawnSync(node, ['--input-type=module', '-e', script], { cwd: ROOT, env, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(r.stderr)
    samples.push(JSON.parse(r.stdout.trim()))
  }
  console.log(`\nbreakdown of one start (median of ${samples.length}, wall):`)
  phases.forEach((p, i) => console.log(`  ${p.padEnd(48)} ${median(samples.map((s) => s[i])).toFixed(0).padStart(5)}ms`))
}

try {
  bench()
  if (process.argv.includes('--breakdown')) breakdown()
} finally {
  rmSync(state, { recursive: true, force: true })
}
