import { createHash } from 'node:crypto'
import type { LimitFunction } from 'p-limit'
import { OpsError } from '../../errors.ts'
import { parseDuration } from '../../duration.ts'
import { upstreamInstance, type Instance } from '../instances.ts'
import { resolvePartialInputs, runProbe, unknownInputsNote } from '../probe.ts'
import type { RunOptions } from '../scheduler.ts'
import type { Scope } from '../template.ts'
import type { Change, Outputs, StepContext, StepDefinition } from '../step.ts'
import { retry } from '../../retry.ts'
import { underAttemptSignal } from './attempt-signal.ts'
import { withProgress } from '../../progress.ts'
import { errorInfo, Interrupted, retryable } from './errors.ts'
import { stampSince, type NodeLedger, type Stamp } from './ledger.ts'
import { confirmWholePlan, Declined, type ConfirmGate } from './confirm.ts'
import { outsideSlot } from './slots.ts'

/** What every node of one run shares: the options, the instances, the ledger and the parallelism limit. */
export interface RunScope {
  o: RunOptions
  instances: Instance[]
  ledger: NodeLedger
  /** Runs a node's work in one of maxParallel slots (p-limit: first come, first served). */
  limit: LimitFunction
  /** The run's one confirmation, and the nodes an "n" left pending. */
  gate: ConfirmGate
}

/** The last progress line of each instance, per run: a timeout says what the step was doing. */
const lastLines = new WeakMap<RunScope, Map<string, string>>()
function timeoutNote(run: RunScope, inst: Instance): () => string {
  return () => {
    const last = lastLines.get(run)?.get(inst.id)
    return ` (the node's timeout in ${run.o.workflow.file})${last ? `; its last progress line: ${last}` : ''}`
  }
}

export function scopeOf(run: RunScope, inst: Instance): Scope {
  return {
    params: run.o.params,
    item: inst.item,
    outputs: (node) => {
      const up = upstreamInstance(run.instances, inst, node)
      return up ? run.ledger.get(up.id)?.outputs : undefined
    },
  }
}

export function stepContext(run: RunScope, inst: Instance, inputs: unknown, attempt: number, signal: AbortSignal, started: number): StepContext<unknown> {
  const { o } = run
  const runId = o.state?.runId
  const contextMadeAt = Date.now()
  return {
    node: inst.id,
    inputs,
    signal,
    dryRun: o.dryRun,
    interactive: o.interactive,
    runDir: o.store && runId ? o.store.ensureRunDir(runId) : undefined,
    runsDir: o.runsDir,
    runStartedAt: o.state?.startedAt ?? new Date(started).toISOString(),
    previousOutputs: (o.previous ?? o.history)?.nodes[inst.id]?.outputs,
    attempt,
    command: (...flags) => o.next.resume(...flags),
    log: (line) => {
      if (!lastLines.has(run)) lastLines.set(run, new Map())
      lastLines.get(run)!.set(inst.id, line)
      o.bus.emit({ type: 'log', id: inst.id, line })
      if (o.store && runId) o.store.appendEvent(runId, { type: 'log', node: inst.id, line })
    },
    changed: (change) => run.ledger.changed(inst.id, change),
    // The deadline the operator races while a consent has the terminal: this attempt's timeout.
    withTerminal: (fn) => o.io.withTerminal(fn, { node: inst.id, deadline: timeoutMs(inst) === undefined ? undefined : new Date(contextMadeAt + timeoutMs(inst)!) }),
    prompt: async (q) => (await o.io.prompt(q, signal)) ?? '',
    statuses: () => run.ledger.statuses(),
    waiting: (fn) => outsideSlot(run.limit, fn),
  }
}

function timeoutMs(inst: Instance): number | undefined {
  return inst.node.spec.timeout ? parseDuration(inst.node.spec.timeout) : undefined
}

/** The node's step, or undefined once its import failure is recorded as the node's failure. */
async function stepOf(run: RunScope, inst: Instance, stamp: () => Stamp): Promise<StepDefinition | undefined> {
  try {
    return await run.o.loadStep(inst.node.spec.run)
  } catch (e) {
    run.ledger.failed(inst.id, { message: `cannot load task ${inst.node.spec.run}: ${(e as Error).message}`, reason: 'TaskLoadError' }, stamp())
    return undefined
  }
}

/** Dry run of a node whose inputs wait for upstream outputs: its probe, if it has one. False if it has none. */
export async function probeNode(run: RunScope, inst: Instance, scope: Scope): Promise<boolean> {
  const { o, ledger } = run
  const spec = inst.node.spec
  const started = Date.now()
  const stamp = stampSince(started)
  const step = await stepOf(run, inst, stamp)
  if (!step) return true
  if (!step.probe) return false
  return run.limit(async () => {
    if (o.signal.aborted && !inst.node.isFinally) return true
    const partial = resolvePartialInputs(spec.with ?? {}, scope)
    ledger.running(inst.id, 1, { startedAt: new Date(started).toISOString() })
    try {
      const r = await underAttemptSignal(
        o.signal,
        spec.timeout,
        (signal) => {
          const ctx = stepContext(run, inst, partial.inputs, 1, signal, started) as StepContext<Record<string, unknown>>
          return withProgress(ctx.log, () => runProbe(step, ctx))
        },
        timeoutNote(run, inst),
      )
      o.bus.emit({ type: 'plan', id: inst.id, changes: r.changes })
      ledger.finished(inst.id, 'planned', { reason: [r.observed, unknownInputsNote(partial)].filter(Boolean).join('; '), ...stamp() })
    } catch (e) {
      if (e instanceof Interrupted) ledger.interrupted(inst.id, stamp())
      else ledger.failed(inst.id, errorInfo(e), stamp())
    }
    return true
  })
}

/**
 * A node that may start: its step's inputs, a kept result, the confirmation, then attempts with
 * the one retry policy (lib/retry.ts) under the node's timeout, each one check -> plan (dry run) or apply -> verify.
 */
export async function executeNode(run: RunScope, inst: Instance, rawInputs: unknown): Promise<void> {
  const { o, ledger } = run
  const spec = inst.node.spec
  const started = Date.now()
  const stamp = stampSince(started)
  const step = await stepOf(run, inst, stamp)
  if (!step) return
  const parsed = step.inputs.safeParse(rawInputs)
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `with.${i.path.join('.')}: ${i.message}`).join('; ')
    return ledger.failed(inst.id, { message: `invalid inputs for ${spec.run}: ${msg}`, reason: 'InvalidInputs', hint: `fix the node's "with" in ${o.workflow.file} or the --set values` }, stamp())
  }
  const inputs = parsed.data
  const inputsHash = hashInputs(rawInputs)

  const kept = o.resume.keep.get(inst.id)
  if (kept && !step.alwaysRun && kept.inputsHash === inputsHash && kept.outputs) {
    return ledger.kept(inst.id, kept, o.previous?.runId)
  }

  ledger.running(inst.id, 1, { startedAt: new Date(started).toISOString(), inputsHash, outputs: undefined, error: undefined, reason: undefined, finishedAt: undefined, durationMs: undefined, changes: undefined })
  // After SIGINT/SIGTERM an attempt that fails is interrupted, except in a finally node: it runs on.
  const interrupted = (e: unknown) => e instanceof Interrupted || (o.signal.aborted && !inst.node.isFinally)
  const ctxFor = (attempt: number, signal: AbortSignal) => stepContext(run, inst, inputs, attempt, signal, started)

  // Asked once, before the attempts: not under their timeout, and never again on a retry.
  if (spec.confirm && !o.yes && !o.dryRun) {
    try {
      const pre = ctxFor(1, o.signal)
      const checked = step.alwaysRun ? undefined : await step.check(pre)
      if (checked?.done) return ledger.finished(inst.id, 'cached', { outputs: jsonOnly(checked.outputs), reason: checked.observed, ...stamp() })
      await confirmWholePlan(run, inst, step, pre)
    } catch (e) {
      if (e instanceof Declined) {
        run.gate.declined.add(inst.id)
        return ledger.pending(inst.id, 'not confirmed: nothing changed', stamp())
      }
      if (o.signal.aborted) return ledger.interrupted(inst.id, stamp())
      return ledger.failed(inst.id, errorInfo(e), stamp())
    }
  }

  try {
    const outcome = await retry(
      (attempt) => {
        if (attempt > 1) ledger.running(inst.id, attempt)
        // Clients deep in the step (a slow Kubernetes or Google request) report through ctx.log.
        return underAttemptSignal(
          o.signal,
          spec.timeout,
          (signal) => {
            const ctx = ctxFor(attempt, signal)
            return withProgress(ctx.log, () => attemptOnce(run, inst, step, ctx))
          },
          timeoutNote(run, inst),
        )
      },
      {
        attempts: spec.retry?.attempts ?? 1,
        backoffMs: parseDuration(spec.retry?.backoff ?? '1s') ?? 1000,
        signal: o.signal,
        retryable: (e) => !interrupted(e) && retryable(e),
        onRetry: (e, next, delayMs) => {
          const error = errorInfo(e)
          o.bus.emit({ type: 'retry', id: inst.id, attempt: next, delayMs, error, elapsedMs: Date.now() - started })
          if (o.store && o.state) o.store.appendEvent(o.state.runId, { type: 'retry', node: inst.id, attempt: next, delayMs, error })
        },
        cancelled: () => new Interrupted('interrupted'),
      },
    )
    if (outcome.kind === 'cached') return ledger.finished(inst.id, 'cached', { outputs: outcome.outputs, reason: outcome.observed, ...stamp() })
    if (outcome.kind === 'planned') {
      o.bus.emit({ type: 'plan', id: inst.id, changes: outcome.changes })
      return ledger.finished(inst.id, 'planned', { outputs: outcome.outputs, reason: outcome.reason, ...stamp() })
    }
    return ledger.finished(inst.id, 'succeeded', { outputs: outcome.outputs, ...stamp() })
  } catch (e) {
    if (interrupted(e)) return ledger.interrupted(inst.id, stamp())
    return ledger.failed(inst.id, errorInfo(e), stamp())
  }
}

type Outcome = { kind: 'cached'; outputs: Outputs; observed: string } | { kind: 'planned'; outputs?: Outputs; changes: Change[]; reason: string } | { kind: 'applied'; outputs: Outputs }

async function attemptOnce(run: RunScope, inst: Instance, step: StepDefinition, ctx: StepContext<unknown>): Promise<Outcome> {
  const { o } = run
  // An alwaysRun step (a read-only verification) is its own apply: checking first would only do the work twice.
  const checked: Awaited<ReturnType<StepDefinition['check']>> = step.alwaysRun ? { done: false, reason: 'verifies on every run' } : await step.check(ctx)
  if (checked.done) return { kind: 'cached', outputs: jsonOnly(checked.outputs), observed: checked.observed }
  const reason = checked.reason
  if (checked.observed) ctx.log(checked.observed)
  if (o.dryRun) {
    const plan = await step.plan(ctx)
    return { kind: 'planned', outputs: plan.outputs ? jsonOnly(plan.outputs) : undefined, changes: plan.changes, reason }
  }
  if (inst.node.spec.interactive && !o.interactive) {
    throw new OpsError(`${inst.id} needs an operator at a terminal: ${reason}`, {
      reason: 'NeedsOperator',
      hint: step.runbook?.(ctx) ?? `run it by hand on a terminal: ${o.next.resume('--only', inst.id)}`,
    })
  }
  ctx.log(`applying: ${reason}`)
  const outputs = jsonOnly(await step.apply(ctx))
  if (step.verify) await step.verify(ctx, outputs)
  return { kind: 'applied', outputs }
}

function hashInputs(inputs: unknown): string {
  return 'sha256:' + createHash('sha256').update(JSON.stringify(inputs ?? null)).digest('hex').slice(0, 16)
}

/** Outputs must be plain JSON; SecretValue serialises to its fingerprint, so material cannot slip through. */
function jsonOnly(outputs: Outputs): Outputs {
  return JSON.parse(JSON.stringify(outputs ?? {}))
}
