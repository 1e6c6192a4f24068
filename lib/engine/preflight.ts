/**
 * Preflight: every input that is known before the run (params, forEach items) is judged,
 * against its step's input schema, against the other inputs, and by each step's read-only
 * `preflight` against the world it will touch, BEFORE the first node runs. A combination
 * that a later step would refuse (after update-secret replaced the Secret) is refused here
 * with exit 2 and nothing changed. A dry run shows what was checked.
 */
import { resolvePartialInputs } from './probe.ts'
import { evaluateCondition, MissingOutputError, type Scope } from './template.ts'
import type { Instance } from './instances.ts'
import type { Workflow } from './load.ts'
import type { StepContext, StepDefinition } from './step.ts'
import { isOpsError } from '../errors.ts'
import { underAttemptSignal } from './scheduler/attempt-signal.ts'
import { Interrupted, TimedOut } from './scheduler/errors.ts'
import { withProgress } from '../progress.ts'

export interface PreflightProblem {
  /** Instance id, or the param the problem is in. */
  where: string
  message: string
  hint?: string
}

export interface PreflightReport {
  /** What was looked at and found fine: one line each, shown in a dry run and a run. */
  checked: Array<{ id: string; line: string }>
  /** Refusals: the run does not start (exit 2). */
  problems: PreflightProblem[]
  /** Checks that could not look (cluster unreachable, a timeout): the run does not start (exit 1). */
  unchecked: PreflightProblem[]
}

export interface PreflightOptions {
  workflow: Workflow
  params: Record<string, unknown>
  instances: Instance[]
  /** Instances this invocation will not run (--only): not judged. */
  skip?: ReadonlySet<string>
  loadStep: (taskId: string) => Promise<StepDefinition>
  signal: AbortSignal
  dryRun: boolean
  interactive: boolean
  runsDir: string
  command: (...flags: string[]) => string
  /** Each checked or progress line as it comes (a slow server is seen while it is waited for). */
  onLine?: (id: string, line: string) => void
}

/** Default bound of one step's preflight when its node has no timeout. */
const PREFLIGHT_TIMEOUT = '2m'

export async function preflight(o: PreflightOptions): Promise<PreflightReport> {
  const report: PreflightReport = { checked: [], problems: [], unchecked: [] }
  report.problems.push(...duplicateItems(o.workflow, o.params))
  if (report.problems.length) return report // instances of duplicate items would judge the same object twice

  // The partial inputs of every instance, grouped by node, so a step can compare its instances.
  const judged: Array<{ inst: Instance; step: StepDefinition; inputs: Record<string, unknown>; unknown: string[] }> = []
  for (const inst of o.instances) {
    if (o.skip?.has(inst.id) || inst.node.isFinally) continue
    const scope: Scope = { params: o.params, outputs: () => undefined, item: inst.item }
    try {
      if (inst.node.spec.when !== undefined && !evaluateCondition(inst.node.spec.when, scope)) continue
    } catch (e) {
      if (e instanceof MissingOutputError) continue // decided by an upstream output: judged when it runs
      throw e
    }
    let step: StepDefinition
    try {
      step = await o.loadStep(inst.node.spec.run)
    } catch {
      continue // the scheduler reports an import failure as the node's failure
    }
    const partial = resolvePartialInputs(inst.node.spec.with ?? {}, scope)
    judged.push({ inst, step, inputs: partial.inputs, unknown: partial.unknownKeys })
  }

  for (const j of judged) report.problems.push(...schemaProblems(j.inst, j.step, j.inputs, j.unknown))
  if (report.problems.length) return report // the steps' own checks assume well-formed inputs

  // In parallel (they only read), reported in instance order; one slow server delays them all once.
  const results = await Promise.all(
    judged.map(async (j): Promise<PreflightReport> => {
      const r: PreflightReport = { checked: [], problems: [], unchecked: [] }
      if (!j.step.preflight) return r
      const peers = judged.filter((p) => p.inst.node.id === j.inst.node.id).map((p) => p.inputs)
      const log = (line: string) => {
        r.checked.push({ id: j.inst.id, line })
        o.onLine?.(j.inst.id, line)
      }
      // Bounded like an attempt of the node: its timeout, else PREFLIGHT_TIMEOUT.
      const limit = j.inst.node.spec.timeout ?? PREFLIGHT_TIMEOUT
      try {
        const found = await underAttemptSignal(o.signal, limit, (signal) => withProgress(log, () => j.step.preflight!(contextFor(o, j.inst, j.inputs, signal, log) as StepContext<never>, peers as never[])))
        for (const line of found?.checked ?? []) log(line)
        for (const p of found?.problems ?? []) r.problems.push({ where: j.inst.id, ...p })
      } catch (e) {
        if (e instanceof Interrupted) throw e
        if (e instanceof TimedOut) {
          r.unchecked.push({ where: j.inst.id, message: `preflight did not finish within ${limit}`, hint: 'see the progress lines above for what it waited for' })
        } else if (isOpsError(e) && !e.retryable) r.problems.push({ where: j.inst.id, message: e.message, hint: e.hint })
        else r.unchecked.push({ where: j.inst.id, message: e instanceof Error ? e.message : String(e), hint: isOpsError(e) ? e.hint : undefined })
      }
      return r
    }),
  )
  for (const r of results) {
    report.checked.push(...r.checked)
    report.problems.push(...r.problems)
    report.unchecked.push(...r.unchecked)
  }
  return report
}

function contextFor(o: PreflightOptions, inst: Instance, inputs: Record<string, unknown>, signal: AbortSignal, log: (line: string) => void): StepContext<Record<string, unknown>> {
  return {
    node: inst.id,
    inputs,
    signal,
    dryRun: true, // read-only, whatever the run will be
    interactive: o.interactive,
    runDir: undefined,
    runsDir: o.runsDir,
    runStartedAt: new Date().toISOString(),
    previousOutputs: undefined,
    attempt: 1,
    command: o.command,
    log,
    withTerminal: () => Promise.reject(new Error('preflight cannot use the terminal')),
    prompt: () => Promise.reject(new Error('preflight cannot prompt')),
    statuses: () => ({}),
    waiting: (fn) => fn(),
    changed: () => {}, // a preflight only reads
  }
}

/** Where a `with` key's value comes from, for the hint: `--set account=…` or `targets[0].namespace`. */
function sourceOf(inst: Instance, key: string): string | undefined {
  const raw = inst.node.spec.with?.[key]
  const m = typeof raw === 'string' ? /\$\{\{\s*(params\.[\w.]+|item(?:\.[\w.]+)?)\s*\}\}/.exec(raw) : null
  if (!m) return undefined
  if (m[1].startsWith('params.')) return `param ${m[1].slice(7)}`
  const fe = inst.node.forEach
  return fe ? `${fe.param} item ${instanceLabel(inst)}${m[1] === 'item' ? '' : ` field ${m[1].slice(5)}`}` : undefined
}

function instanceLabel(inst: Instance): string {
  return /\[(.*)\]$/.exec(inst.id)?.[1] ?? inst.id
}

/** Input schema issues on the inputs already known; keys waiting for upstream outputs are not judged. */
function schemaProblems(inst: Instance, step: StepDefinition, inputs: Record<string, unknown>, unknown: string[]): PreflightProblem[] {
  const r = step.inputs.safeParse(inputs)
  if (r.success) return []
  const out: PreflightProblem[] = []
  for (const issue of r.error.issues) {
    const key = String(issue.path[0] ?? '')
    if (unknown.includes(key)) continue
    const from = sourceOf(inst, key)
    const shown = issue.path.map(String).join('.')
    out.push({
      where: inst.id,
      message: `input ${shown || '(all)'}${from ? ` (from ${from})` : ''}: ${issue.message}`,
      hint: from?.startsWith('param ') ? `fix it: --set ${from.slice(6)}=… (see --help for its type and default)` : from ? `fix the ${inst.node.forEach!.param} param (--set ${inst.node.forEach!.param}='[…]', JSON)` : undefined,
    })
  }
  return out
}

/** Two items of a forEach list with the same key would run as one instance twice: refused. */
function duplicateItems(wf: Workflow, params: Record<string, unknown>): PreflightProblem[] {
  const out: PreflightProblem[] = []
  const seen = new Set<string>()
  for (const n of wf.nodes) {
    const fe = n.forEach
    if (!fe || seen.has(`${fe.param}/${fe.key ?? ''}`)) continue
    seen.add(`${fe.param}/${fe.key ?? ''}`)
    const items = params[fe.param]
    if (!Array.isArray(items)) continue
    const first = new Map<string, number>()
    items.forEach((item, i) => {
      if (fe.key && (!item || typeof item !== 'object' || Array.isArray(item) || typeof (item as Record<string, unknown>)[fe.key] !== 'string' || (item as Record<string, string>)[fe.key] === '')) {
        out.push({ where: `param ${fe.param}`, message: `${fe.param}[${i}] has no "${fe.key}" (a non-empty string): every item needs one`, hint: `--set ${fe.param}='[…]' (JSON; --help shows the default)` })
        return
      }
      const key = fe.key ? (item as Record<string, string>)[fe.key] : JSON.stringify(item)
      const at = first.get(key)
      if (at === undefined) return void first.set(key, i)
      const nodes = wf.nodes.filter((x) => x.forEach?.param === fe.param).map((x) => x.id)
      out.push({
        where: `param ${fe.param}`,
        message: `${fe.param}[${at}] and ${fe.param}[${i}] both have ${fe.key ?? 'the value'} ${JSON.stringify(key)}: ${nodes.join(', ')} run once per ${fe.key ?? 'item'}, so the two would race on the same objects`,
        hint: `merge them into one item, or give each its own ${fe.key ?? 'value'}`,
      })
    })
  }
  return out
}

/** The refusals of a report as lines (the checked lines were shown as they came, by onLine). */
export function preflightLines(r: PreflightReport): string[] {
  const lines: string[] = []
  for (const p of [...r.problems, ...r.unchecked]) {
    lines.push(`[${p.where}] ${r.problems.includes(p) ? 'REFUSED' : 'COULD NOT CHECK'}: ${p.message}`)
    if (p.hint) lines.push(`[${p.where}] hint: ${p.hint}`)
  }
  return lines
}
