import { resolveValue, MissingOutputError, evaluateCondition } from './template.ts'
import { upstreamInstance, type Instance } from './instances.ts'
import type { RunState } from './state.ts'
import type { StepDefinition, StepContext, Outputs, Change } from './step.ts'
import { resolvePartialInputs, runProbe, unknownInputsNote } from './probe.ts'
import type { TerminalIo } from './scheduler.ts'
import { formatDuration } from '../duration.ts'
import type { NextCommands } from './command.ts'
import { isOpsError } from '../errors.ts'
import { formatHealth, type Health, type StatusHealth } from './health.ts'

export interface NodeObservation {
  id: string
  /**
   * done: the world is as wanted; todo: a run would change it; unknown: could not tell (inputs
   * wait for an upstream node); error: the check or probe failed.
   */
  state: 'done' | 'todo' | 'skipped' | 'unknown' | 'error'
  observed: string
  /** What the step's probe says a run would change, when its inputs were only partly known. */
  changes?: Change[]
  lastRun?: { status: string; finishedAt?: string; error?: string }
  /** The credential's state, from a check that says it (lib/engine/health.ts). */
  health?: Health
}

/**
 * `--status`: every node's read-only check, in order, fed with upstream outputs from
 * this pass (or the last run when a check cannot produce them). Never writes anything.
 */
export async function observe(args: {
  instances: Instance[]
  params: Record<string, unknown>
  loadStep: (id: string) => Promise<StepDefinition>
  last?: RunState
  signal: AbortSignal
  io: TerminalIo
  next: NextCommands
  /** `<state-dir>/<workflow>/runs`, for StepContext.runsDir. */
  runsDir: string
  timeoutMs?: number
}): Promise<NodeObservation[]> {
  const outputs = new Map<string, Outputs | undefined>()
  const out: NodeObservation[] = []
  for (const inst of args.instances) {
    const lastNode = args.last?.nodes[inst.id]
    const lastRun = lastNode ? { status: lastNode.status, finishedAt: lastNode.finishedAt, error: lastNode.error?.message } : undefined
    const scope = {
      params: args.params,
      item: inst.item,
      outputs: (node: string) => {
        const up = upstreamInstance(args.instances, inst, node)
        return up ? (outputs.get(up.id) ?? args.last?.nodes[up.id]?.outputs) : undefined
      },
    }
    try {
      if (inst.node.spec.when && !evaluateCondition(inst.node.spec.when, scope)) {
        out.push({ id: inst.id, state: 'skipped', observed: `when: ${inst.node.spec.when} is false`, lastRun })
        continue
      }
      const step = await args.loadStep(inst.node.spec.run)
      const signal = AbortSignal.any([args.signal, AbortSignal.timeout(args.timeoutMs ?? 30_000)])
      const ctx = <T>(inputs: T): StepContext<T> => ({
        node: inst.id,
        inputs,
        signal,
        dryRun: true,
        interactive: false,
        runDir: undefined,
        runsDir: args.runsDir,
        runStartedAt: args.last?.startedAt ?? new Date().toISOString(),
        previousOutputs: args.last?.nodes[inst.id]?.outputs,
        attempt: 1,
        command: (...flags: string[]) => args.next.resume(...flags),
        log: () => {},
        changed: () => {},
        withTerminal: (fn) => args.io.withTerminal(fn),
        prompt: async () => '',
        statuses: () => ({}),
        waiting: (fn) => fn(),
      })
      let raw: unknown
      try {
        raw = resolveValue(inst.node.spec.with ?? {}, scope)
      } catch (e) {
        if (!(e instanceof MissingOutputError) || !step.probe) throw e
        // Upstream outputs are not known: the step's probe looks with what is.
        const partial = resolvePartialInputs(inst.node.spec.with ?? {}, scope)
        const p = await runProbe(step, ctx(partial.inputs))
        const would = p.changes.map((c) => `would ${c.verb} ${c.target}${c.detail ? ` (${c.detail})` : ''}`)
        out.push({ id: inst.id, state: 'unknown', observed: [p.observed, ...would, unknownInputsNote(partial)].filter(Boolean).join('; '), changes: p.changes, lastRun })
        continue
      }
      const r = await step.check(ctx(step.inputs.parse(raw)))
      if (r.done) outputs.set(inst.id, JSON.parse(JSON.stringify(r.outputs)))
      out.push({ id: inst.id, state: r.done ? 'done' : 'todo', observed: r.done ? r.observed : [r.reason, r.observed].filter(Boolean).join('; '), lastRun, ...(r.health ? { health: r.health } : {}) })
    } catch (e) {
      if (e instanceof MissingOutputError) out.push({ id: inst.id, state: 'unknown', observed: e.message, lastRun })
      else out.push({ id: inst.id, state: 'error', observed: isOpsError(e) ? e.message + (e.hint ? ` (hint: ${e.hint})` : '') : (e as Error).message, lastRun })
    }
  }
  return out
}

/** A run whose state says running while no live process holds the workflow's lock for it. */
export interface GoneRun {
  /** e.g. "pid 123 on ops-host is no longer running". */
  why: string
  resume: string
}

/** The last run as --status shows it: a run recorded as running whose process is gone crashed. */
export function lastRunStatus(last: RunState, gone: GoneRun | undefined): string {
  return gone ? 'interrupted' : last.status
}

/** `width`: the terminal's columns, to which the health lines are wrapped (undefined: a pipe, left whole). */
export function formatStatus(workflow: string, obs: NodeObservation[], last: RunState | undefined, gone?: GoneRun, health?: StatusHealth, width?: number): string {
  const mark = { done: '✔', todo: '✎', skipped: '↓', unknown: '?', error: '✖' }
  const lines = [`${workflow}: status (read-only checks)`]
  if (health) lines.push(...formatHealth(health, width), '')
  if (last) {
    const when = last.finishedAt ?? last.updatedAt
    const ago = formatDuration(Date.now() - Date.parse(when))
    if (gone) {
      lines.push(`last run ${last.runId}: interrupted (process gone: its state says running, but ${gone.why}; killed or crashed), last saved ${ago} ago`)
      lines.push(`next: continue it with ${gone.resume}`)
    } else lines.push(`last run ${last.runId}: ${last.status}, ${ago} ago`)
  } else lines.push('last run: none recorded in this state directory')
  lines.push('')
  const w = Math.max(4, ...obs.map((o) => o.id.length))
  lines.push(`${'NODE'.padEnd(w)}  NOW       LAST RUN     OBSERVED`)
  for (const o of obs) {
    const now = `${mark[o.state]} ${o.state}`.padEnd(9)
    const lr = (o.lastRun?.status ?? '-').padEnd(11)
    lines.push(`${o.id.padEnd(w)}  ${now} ${lr}  ${o.observed}`)
  }
  const errors = obs.filter((o) => o.state === 'error').map((o) => o.id)
  if (errors.length) lines.push('', `incomplete: the check of ${errors.join(', ')} failed (see OBSERVED); fix that and run --status again (exit 1)`)
  return lines.join('\n') + '\n'
}
