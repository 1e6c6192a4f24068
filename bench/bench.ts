/**
 * `npm run bench`: credflow's gmail-reauth sync against the same job done by a careful operator
 * with kubectl and curl (bench/kubectl-sync.sh), on the test plane, interleaved, in one process
 * tree. Not a test: nothing here asserts a time. Scenarios (issue 16):
 *   (a) sync: the tool (node and npx zx), the script (in-place apply; delete + create)
 *   (b) nothing to do: the tool's idempotent run, the script's check-and-skip
 *   (c) --dry-run and --status
 *   (d) fan-out to N namespaces (BENCH_FANOUT, default 1,10,50), tool and script
 *   (e) how long after the rollout completed (per a `kubectl get -w` watcher) each moves on
 *   (f) start-up over bare node, peak RSS
 * BENCH_RUNS repetitions (default 5) after one warm-up round; medians and min-max of wall and CPU
 * (user+sys of the whole process tree), peak RSS, API requests per target (one extra run of each
 * through a counting proxy). `npm run bench -- --write` also rewrites the generated part of
 * bench/RESULTS.md. BENCH_BEFORE=<another checkout> adds that checkout's tool to every tool
 * case ("before:" rows), interleaved with this one, for before/after ratios in one run.
 * BENCH_KCM_FLAGS adds kube-controller-manager flags to the plane (bench/world.ts).
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { measure, requireGnuTime, stats, loadAverage, type RunOutput, type Stats } from './measure.ts'
import { openWorld, watchRollout, PRODUCTION, fanTarget, type Target, type World } from './world.ts'
import { ROOT } from '../test/e2e/gmail-env.ts'
import type { RunState } from '../lib/engine/state.ts'

/** When the last measured run ended: a restart stamps restartedAt to the second. */
let lastEnded = 0

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const FANOUT = (process.env.BENCH_FANOUT ?? '1,10,50').split(',').filter(Boolean).map(Number)
const WRITE = process.argv.includes('--write')
const RESULTS = join(ROOT, 'bench/RESULTS.md')
const BEFORE = process.env.BENCH_BEFORE
const node = process.execPath
const npx = 'npx' // npm's, from PATH; it runs on the node first on PATH (test/node/use.sh)

interface Case {
  id: string
  group: string
  label: string
  /** Working directory: this checkout, or BENCH_BEFORE's. */
  cwd?: string
  /** Targets this run syncs (API requests are reported per target). */
  targets: Target[]
  /** Brings the world to this case's starting point (not measured). */
  prepare?: () => Promise<void>
  /** The command, pointed at `kubeconfig` (the plane, or the counting proxy). */
  argv(kubeconfig: string): string[]
  env?(kubeconfig: string): NodeJS.ProcessEnv
  /** Exit codes that mean it worked (default 0). */
  ok?: number[]
  /** Rollout-notice gap (ms) for this run, if it restarts the production Deployment. */
  gap?: 'tool' | 'script'
}

interface Result {
  wall: number[]
  cpu: number[]
  rss: number[]
  gaps: number[]
  requests?: { total: number; perTarget: number; byMethod: string }
}

requireGnuTime()
const home = mkdtempSync(join(tmpdir(), 'credflow-bench-home-'))
const world = await openWorld((l) => process.stderr.write(`${l}\n`))
try {
  const maxFan = Math.max(0, ...FANOUT)
  if (maxFan) await world.addFanOut(maxFan)
  const cases = defineCases(world)
  const results = new Map<string, Result>(cases.map((c) => [c.id, { wall: [], cpu: [], rss: [], gaps: [] }]))
  for (let round = 0; round <= RUNS; round++) {
    process.stderr.write(`[bench] ${round === 0 ? 'warm-up round' : `round ${round}/${RUNS}`} (load average ${loadAverage()})\n`)
    for (const c of cases) {
      const r = await runCase(world, c, world.plane.kubeconfigPath)
      if (round === 0) continue
      const res = results.get(c.id)!
      res.wall.push(r.out.wallMs)
      res.cpu.push(r.out.cpuMs)
      res.rss.push(r.out.rssMb)
      if (r.gap !== undefined) res.gaps.push(r.gap)
    }
  }
  process.stderr.write('[bench] counting API requests (one run of each through the proxy)\n')
  for (const c of cases) {
    if (!c.targets.length) continue
    if (c.id.startsWith('script')) await runCase(world, c, world.proxy.kubeconfig) // kubectl's discovery cache, as an operator's is warm
    const from = world.proxy.requests.length
    await runCase(world, c, world.proxy.kubeconfig)
    const reqs = world.proxy.requests.slice(from)
    const by = new Map<string, number>()
    for (const q of reqs) by.set(q.method, (by.get(q.method) ?? 0) + 1)
    results.get(c.id)!.requests = {
      total: reqs.length,
      perTarget: reqs.length / c.targets.length,
      byMethod: [...by].sort().map(([m, n]) => `${n} ${m}`).join(', '),
    }
  }
  const report = render(cases, results)
  process.stdout.write(report)
  if (WRITE) writeResults(report)
} finally {
  await world.close()
  rmSync(home, { recursive: true, force: true })
}

async function runCase(w: World, c: Case, kubeconfig: string): Promise<{ out: RunOutput; gap?: number }> {
  await c.prepare?.()
  // kubectl rollout restart refuses a second restart within the same second (its restartedAt
  // annotation has no fraction): start in the next second after the last run, outside the timing.
  const sameSecond = Math.floor(Date.now() / 1000) === Math.floor(lastEnded / 1000)
  if (sameSecond) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5))
  const watcher = c.gap ? await watchRollout(w.kubectl, w.plane.kubeconfigPath, PRODUCTION.namespace, PRODUCTION.deployments[0]) : undefined
  let rolledOutLine: number | undefined
  try {
    const out = await measure({
      argv: c.argv(kubeconfig),
      cwd: c.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', CREDFLOW_STATE_DIR: w.env.stateDir, ...c.env?.(kubeconfig) },
      onLine: (l, at) => {
        if (rolledOutLine === undefined && /successfully rolled out/.test(l)) rolledOutLine = at
      },
    })
    lastEnded = Date.now()
    if (!(c.ok ?? [0]).includes(out.code ?? -1)) throw new Error(`${c.label} exited ${out.code}:\n${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`)
    if (!watcher) return { out }
    const completed = await Promise.race([watcher.completedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 2000))])
    const movedOn = c.gap === 'tool' ? restartFinishedAt(w) : rolledOutLine
    return { out, gap: movedOn === undefined || Number.isNaN(completed) ? undefined : movedOn - completed }
  } finally {
    watcher?.stop()
  }
}

/** When the last run's restart node finished, on the performance.now() clock. */
function restartFinishedAt(w: World): number | undefined {
  const runs: RunState[] = w.env.runs()
  const at = runs.at(-1)?.nodes[`restart[${PRODUCTION.namespace}]`]?.finishedAt
  return at ? Date.parse(at) - performance.timeOrigin : undefined
}

function defineCases(w: World): Case[] {
  const env = w.env
  const tool = (entry: 'node' | 'npx zx', targets: Target[], extra: string[]) => (kubeconfig: string) => [
    ...(entry === 'node' ? [node] : [npx, 'zx']),
    'tasks/run.mjs', 'gmail-reauth',
    ...env.sets({ kubeconfig, targets: JSON.stringify(targets) }),
    ...extra,
  ]
  const script = (mode: string, targets: Target[]) => (_: string) => [
    'bash', 'bench/kubectl-sync.sh', '--mode', mode, '--token-file', env.tokenFile, '--token-url', env.standIn.endpoints.tokenUrl,
    '--secret', targets[0].secret, '--key', targets[0].key,
    ...targets[0].staleSecrets.flatMap((s) => ['--stale', s]), ...targets[0].deployments.flatMap((d) => ['--deployment', d]),
    ...targets.map((t) => t.namespace),
  ]
  const kubectlEnv = (kubeconfig: string) => ({ KUBECTL: w.kubectl, KUBECONFIG: kubeconfig, HOME: home })
  const reset = (targets: Target[]) => () => w.reset(targets)
  const P = [PRODUCTION]
  const run = ['--yes', '--non-interactive']
  const cases: Case[] = [
    { id: 'tool-sync', group: 'a', label: 'sync: node tasks/run.mjs gmail-reauth --yes', targets: P, prepare: reset(P), argv: tool('node', P, run), gap: 'tool' },
    { id: 'tool-noop', group: 'b', label: 'nothing to do: node tasks/run.mjs (idempotent run)', targets: P, argv: tool('node', P, run) },
    { id: 'tool-sync-zx', group: 'a', label: 'sync: npx zx tasks/run.mjs gmail-reauth --yes', targets: P, prepare: reset(P), argv: tool('npx zx', P, run) },
    { id: 'script-sync-apply', group: 'a', label: 'sync: kubectl-sync.sh --mode apply', targets: P, prepare: reset(P), argv: script('apply', P), env: kubectlEnv, gap: 'script' },
    { id: 'script-noop', group: 'b', label: 'nothing to do: kubectl-sync.sh --mode skip', targets: P, argv: script('skip', P), env: kubectlEnv },
    { id: 'script-sync-recreate', group: 'a', label: 'sync: kubectl-sync.sh --mode recreate', targets: P, prepare: reset(P), argv: script('recreate', P), env: kubectlEnv },
    { id: 'tool-dry-run', group: 'c', label: 'node tasks/run.mjs gmail-reauth --dry-run (changes pending)', targets: P, prepare: reset(P), argv: tool('node', P, ['--dry-run']) },
    { id: 'tool-status', group: 'c', label: 'node tasks/run.mjs gmail-reauth --status', targets: P, argv: tool('node', P, ['--status']), ok: [0, 6] }, // 6: drift (the world was reset)
  ]
  for (const n of FANOUT) {
    const T = Array.from({ length: n }, (_, i) => fanTarget(i + 1))
    cases.push(
      { id: `tool-fan-${n}`, group: 'd', label: `fan-out N=${n}: node tasks/run.mjs --yes`, targets: T, prepare: reset(T), argv: tool('node', T, run) },
      { id: `script-fan-${n}`, group: 'd', label: `fan-out N=${n}: kubectl-sync.sh --mode apply`, targets: T, prepare: reset(T), argv: script('apply', T), env: kubectlEnv },
    )
  }
  cases.push(
    { id: 'bare-node', group: 'f', label: "start-up: node -e ''", targets: [], argv: () => [node, '-e', ''] },
    { id: 'tool-help', group: 'f', label: 'start-up: node tasks/run.mjs --help', targets: [], argv: () => [node, 'tasks/run.mjs', '--help'] },
    { id: 'tool-help-zx', group: 'f', label: 'start-up: npx zx tasks/run.mjs --help', targets: [], argv: () => [npx, 'zx', 'tasks/run.mjs', '--help'] },
  )
  if (!BEFORE) return cases
  // The same tool cases from the other checkout, each right after its counterpart (not the
  // fan-out: N=50 of an old checkout would double the run's length for one more ratio).
  return cases.flatMap((c) => (c.id.startsWith('tool') && c.group !== 'd' ? [c, { ...c, id: `before-${c.id}`, label: `before: ${c.label}`, cwd: BEFORE, gap: undefined }] : [c]))
}

function render(cases: Case[], results: Map<string, Result>): string {
  const s = (id: string, k: 'wall' | 'cpu' | 'rss' | 'gaps'): Stats | undefined => {
    const xs = results.get(id)?.[k]
    return xs?.length ? stats(xs) : undefined
  }
  const ms = (x: Stats | undefined) => (x ? `${fmt(x.median)} (${fmt(x.min)}–${fmt(x.max)})` : '–')
  const lines = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, load average at the end ${loadAverage()}.`,
    `Command: \`npm run bench\` (BENCH_RUNS=${RUNS}, BENCH_FANOUT=${FANOUT.join(',')}${process.env.BENCH_KCM_FLAGS ? `, BENCH_KCM_FLAGS='${process.env.BENCH_KCM_FLAGS}'` : ''}), ${new Date().toISOString().slice(0, 16)}Z.`,
    '',
    '| | scenario | wall ms, median (min–max) | CPU ms, median (min–max) | peak RSS MB | API requests per target |',
    '|---|---|---|---|---|---|',
  ]
  for (const c of cases) {
    const q = results.get(c.id)?.requests
    const rss = s(c.id, 'rss')
    lines.push(`| ${c.group} | ${c.label} | ${ms(s(c.id, 'wall'))} | ${ms(s(c.id, 'cpu'))} | ${rss ? rss.max.toFixed(0) : '–'} | ${q ? `${fmt(q.perTarget)} (${q.byMethod})` : '–'} |`)
  }
  const med = (id: string, k: 'wall' | 'cpu' | 'rss' | 'gaps' = 'wall') => s(id, k)?.median ?? Number.NaN
  const faster = med('script-sync-apply') <= med('script-sync-recreate') ? 'script-sync-apply' : 'script-sync-recreate'
  const ratio = (a: number, b: number) => (a / b).toFixed(2)
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED')
  const syncRatio = med('tool-sync') / med(faster)
  const noopRatio = med('tool-noop') / med('script-noop')
  const dry = med('tool-dry-run')
  const lo = Math.min(...FANOUT)
  const hi = Math.max(...FANOUT)
  const fanTool = med(`tool-fan-${hi}`) / med(`tool-fan-${lo}`)
  const fanScript = med(`script-fan-${hi}`) / med(`script-fan-${lo}`)
  const gapTool = s('tool-sync', 'gaps')
  const gapScript = s('script-sync-apply', 'gaps')
  const startup = med('tool-help') - med('bare-node')
  const rssTool = Math.max(...cases.filter((c) => c.id.startsWith('tool')).flatMap((c) => results.get(c.id)!.rss))
  lines.push(
    '',
    '```',
    `sync ratio tool/script: ${ratio(med('tool-sync'), med(faster))}   (target <= 0.5: ${verdict(syncRatio <= 0.5)}; script = ${faster === 'script-sync-apply' ? 'apply' : 'delete+create'}, the faster variant)`,
    `sync ratio tool/script, CPU: ${ratio(med('tool-sync', 'cpu'), med(faster, 'cpu'))}`,
    `sync ratio tool (npx zx)/script: ${ratio(med('tool-sync-zx'), med(faster))}`,
    `nothing-to-do ratio tool/script: ${ratio(med('tool-noop'), med('script-noop'))}   (target <= 0.5: ${verdict(noopRatio <= 0.5)})`,
    `nothing-to-do ratio tool/script, CPU: ${ratio(med('tool-noop', 'cpu'), med('script-noop', 'cpu'))}`,
    `dry-run wall: ${fmt(dry)} ms   (target <= 1000 ms: ${verdict(dry <= 1000)})`,
    `status wall: ${fmt(med('tool-status'))} ms`,
    `fan-out N=${hi}/N=${lo} tool: ${fanTool.toFixed(2)}, script: ${fanScript.toFixed(2)}   (target tool <= 5 and below the script's: ${verdict(fanTool <= 5 && fanTool < fanScript)})`,
    `rollout noticed after completion: tool ${gapTool ? fmt(gapTool.median) : '–'} ms (max ${gapTool ? fmt(gapTool.max) : '–'}), kubectl rollout status ${gapScript ? fmt(gapScript.median) : '–'} ms   (target <= 100 ms: ${verdict(!!gapTool && gapTool.max <= 100)})`,
    `start-up over bare node: ${fmt(startup)} ms wall, ${fmt(med('tool-help', 'cpu') - med('bare-node', 'cpu'))} ms CPU   (target <= 150 ms: ${verdict(startup <= 150)})`,
    `peak RSS tool: ${rssTool.toFixed(0)} MB   (target <= 120 MB: ${verdict(rssTool <= 120)})`,
    '```',
    '',
  )
  if (BEFORE) {
    lines.push(`Before/after (this checkout / ${BEFORE}), median wall and CPU:`, '', '```')
    for (const c of cases.filter((c) => results.has(`before-${c.id}`))) {
      lines.push(`${c.label}: wall ${ratio(med(c.id), med(`before-${c.id}`))}, CPU ${ratio(med(c.id, 'cpu'), med(`before-${c.id}`, 'cpu'))}`)
    }
    lines.push('```', '')
  }
  return lines.join('\n')
}

function fmt(x: number): string {
  return Number.isNaN(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1)
}

function writeResults(report: string): void {
  const text = readFileSync(RESULTS, 'utf8')
  const begin = '<!-- bench:begin (npm run bench -- --write) -->'
  const end = '<!-- bench:end -->'
  const a = text.indexOf(begin)
  const b = text.indexOf(end)
  if (a < 0 || b < a) throw new Error(`${RESULTS} lacks the ${begin} ... ${end} markers`)
  writeFileSync(RESULTS, `${text.slice(0, a + begin.length)}\n${report}${text.slice(b)}`)
}
