/**
 * `npm run bench:profile`: where one sync's time goes. Runs the tool's sync (the bench's case
 * (a), world reset first) under `node --cpu-prof` BENCH_PROFILE_RUNS times (default 3), then
 * prints the phases of the last run on the wall clock (spawn → run recorded → each node →
 * exit) and the CPU profile's self time grouped by package or source file, summed over runs.
 * The .cpuprofile files are kept in the printed directory (open them in Chrome DevTools).
 * BENCH_PROFILE_TARGETS=N profiles the fan-out to N namespaces (case (d)) instead, and sums the
 * phases per node (how many, first start, last end, median and longest). With
 * CREDFLOW_NO_BUNDLE=1 the engine runs from its sources, so self time is per source file.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { measure } from './measure.ts'
import { fanTarget, openWorld, PRODUCTION } from './world.ts'
import { ROOT } from '../test/e2e/gmail-env.ts'
import type { RunState } from '../lib/engine/state.ts'

function phasesOf(run: RunState, spawnedAt: number, exitedAt: number): string[] {
  const at = (iso?: string) => (iso ? Date.parse(iso) - spawnedAt : Number.NaN)
  const rows: Array<[number, string]> = [[at(run.startedAt), 'run recorded (start-up, loading, validation done)']]
  for (const [name, n] of Object.entries(run.nodes)) {
    rows.push([at(n.startedAt), `${name} starts (${n.status}${n.durationMs !== undefined ? `, ${n.durationMs} ms` : ''})`])
  }
  rows.push([at(run.finishedAt), 'run finished'], [exitedAt - spawnedAt, 'process exited'])
  return rows.sort((a, b) => a[0] - b[0]).map(([t, what]) => `  ${Number.isNaN(t) ? '     ?' : t.toFixed(0).padStart(6)}  ${what}`)
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
}

const profiles = (profileDir: string): Profile[] =>
  readdirSync(profileDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(profileDir, f), 'utf8')) as Profile)

/** Per node of the workflow (all its forEach instances): count, first start, last end, median and longest duration. */
function phasesByNode(run: RunState, spawnedAt: number): string[] {
  const by = new Map<string, Array<{ start: number; end: number; ms: number }>>()
  for (const n of Object.values(run.nodes)) {
    if (!n.startedAt || !n.finishedAt) continue
    const list = by.get(n.node) ?? []
    list.push({ start: Date.parse(n.startedAt) - spawnedAt, end: Date.parse(n.finishedAt) - spawnedAt, ms: n.durationMs ?? 0 })
    by.set(n.node, list)
  }
  const rows = [...by].map(([node, l]) => {
    const ms = l.map((x) => x.ms).sort((a, b) => a - b)
    const first = Math.min(...l.map((x) => x.start))
    return { first, line: `  ${first.toFixed(0).padStart(6)} - ${Math.max(...l.map((x) => x.end)).toFixed(0).padStart(6)}  ${node} x${l.length}: median ${ms[ms.length >> 1]} ms, longest ${ms.at(-1)} ms` }
  })
  return [`  ${(Date.parse(run.startedAt) - spawnedAt).toFixed(0).padStart(6)}           run recorded`, ...rows.sort((a, b) => a.first - b.first).map((r) => r.line), `  ${run.finishedAt ? (Date.parse(run.finishedAt) - spawnedAt).toFixed(0).padStart(6) : '     ?'}           run finished`]
}

/** The engine's phases, by when their function first shows on a sampled stack. */
const MILESTONES = ['main', 'checkStepInputs', 'prepareRun', 'startRecord', 'holdWorkflowLock', 'runWorkflow', 'importClientNode', 'finishRecord']

function firstSeen(profileDir: string): string[] {
  const p = profiles(profileDir).at(-1)
  if (!p) return []
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const first = new Map<string, number>()
  let t = 0
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] / 1000
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at)!.callFrame.functionName
      if (MILESTONES.includes(name) && !first.has(name)) first.set(name, t)
    }
  })
  return [...first].sort((a, b) => a[1] - b[1]).map(([name, ms]) => `  ${ms.toFixed(0).padStart(6)}  ${name}`)
}

/** Self time per package (node_modules/<pkg>), per file of ours, or per V8/Node bucket. */
function selfTimeByPlace(profileDir: string): Array<[string, number]> {
  const total = new Map<string, number>()
  for (const p of profiles(profileDir)) {
    const place = new Map(p.nodes.map((n) => [n.id, placeOf(n.callFrame)]))
    p.samples.forEach((id, i) => {
      const k = place.get(id) ?? '?'
      total.set(k, (total.get(k) ?? 0) + p.timeDeltas[i] / 1000)
    })
  }
  return [...total].sort((a, b) => b[1] - a[1])
}

function placeOf(cf: { functionName: string; url: string }): string {
  if (!cf.url) return cf.functionName ? `(${cf.functionName.replace(/^\(|\)$/g, '')})` : '(anonymous native)'
  if (cf.url.startsWith('node:')) return cf.url.replace(/^node:internal\/(modules|deps)\/.*/, 'node:internal/$1/*')
  const path = cf.url.replace(/^file:\/\//, '')
  const m = /node_modules\/((?:@[^/]+\/)?[^/.][^/]*)/.exec(path)
  if (m) return `npm ${m[1]}`
  const engine = /node_modules\/\.cache\/credflow\/engine\/[^/]+\/(.*)/.exec(path)
  if (engine) return `engine bundle ${engine[1]}`
  if (path.includes('node_modules/.cache/credflow/')) return 'npm @kubernetes/client-node (bundle)'
  return relative(ROOT, path)
}

// Last: the helpers above are initialized by now.
const RUNS = Number(process.env.BENCH_PROFILE_RUNS ?? 3)
const FAN = Number(process.env.BENCH_PROFILE_TARGETS ?? 0)
const dir = mkdtempSync(join(tmpdir(), 'credflow-profile-'))
const world = await openWorld((l) => process.stderr.write(`${l}\n`))
try {
  let phases: string[] = []
  const targets = FAN ? Array.from({ length: FAN }, (_, i) => fanTarget(i + 1)) : [PRODUCTION]
  if (FAN) await world.addFanOut(FAN)
  for (let i = 0; i < RUNS; i++) {
    await world.reset(targets)
    const spawnedAt = Date.now()
    const out = await measure({
      argv: [process.execPath, '--cpu-prof', `--cpu-prof-dir=${dir}`, 'tasks/run.mjs', 'gmail-reauth', ...world.env.sets({ targets: JSON.stringify(targets) }), '--yes', '--non-interactive'],
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', CREDFLOW_STATE_DIR: world.env.stateDir },
    })
    if (out.code !== 0) throw new Error(`sync exited ${out.code}: ${out.stderr.slice(-2000)}`)
    phases = FAN ? phasesByNode(world.env.runs().at(-1)!, spawnedAt) : phasesOf(world.env.runs().at(-1)!, spawnedAt, spawnedAt + out.wallMs)
    process.stderr.write(`[profile] run ${i + 1}/${RUNS}: ${out.wallMs.toFixed(0)} ms wall, ${out.cpuMs.toFixed(0)} ms CPU, peak RSS ${out.rssMb.toFixed(0)} MB\n`)
  }
  console.log(`phases of the last run (wall clock, ms from spawn):\n${phases.join('\n')}\n`)
  console.log(`first seen on the CPU in the last run's profile (ms from the profile's start):\n${firstSeen(dir).join('\n')}\n`)
  console.log(`CPU profile, self time summed over ${RUNS} runs (${dir}):`)
  for (const [what, ms] of selfTimeByPlace(dir).slice(0, 25)) console.log(`  ${(ms / RUNS).toFixed(0).padStart(6)} ms/run  ${what}`)
} finally {
  await world.close()
}
