import { createHash } from 'node:crypto'
import { OpsError, isOpsError } from '../errors.ts'
import { parseDuration } from '../duration.ts'
import type { Workflow } from './load.ts'
import { expandInstances, upstreamInstance, type Instance } from './instances.ts'
import { resolveValue, evaluateCondition, MissingOutputError, TemplateError, type Scope } from './template.ts'
import { SATISFIED, type EventBus, type ErrorInfo, type NodeStatus, type RunStatus } from './events.ts'
import type { ResumePlan } from './resume.ts'
import type { NextCommands } from './command.ts'
import { resolvePartialInputs, runProbe, unknownInputsNote } from './probe.ts'
import type { NodeState, RunState, StateStore } from './state.ts'
import type { StepContext, StepDefinition, Outputs } from './step.ts'

export interface TerminalIo {
  withTerminal<T>(fn: () => Promise<T>): Promise<T>
  /** One line from the operator; null at end of input or when `signal` aborts. */
  prompt(question: string, signal?: AbortSignal): Promise<string | null>
}

export interface RunOptions {
  workflow: Workflow
  params: Record<string, unknown>
  loadStep: (taskId: string) => Promise<StepDefinition>
  dryRun: boolean
  interactive: boolean
  yes: boolean
  maxParallel: number
  /** Aborted by SIGINT/SIGTERM: running nodes become `interrupted`. */
  signal: AbortSignal
  bus: EventBus
  /** The run document to fill in; absent in a dry run (nothing is written). */
  state?: RunState
  store?: StateStore
  /** `<state-dir>/<workflow>/runs`, for StepContext.runsDir (also in a dry run, which has no store). */
  runsDir: string
  resume: ResumePlan
  /** The run whose outputs `previousOutputs` and --only read. */
  previous?: RunState
  /** The latest recorded run, for `previousOutputs` on a fresh run (e.g. the last consent time). */
  history?: RunState
  io: TerminalIo
  /** The commands printed in hints, carrying --state-dir and the workflows dir. */
  next: NextCommands
}

export interface RunResult {
  status: RunStatus
  exitCode: number
  nodes: Record<string, NodeState>
  instances: Instance[]
}

class Interrupted extends Error {}
class TimedOut extends Error {}

function errorInfo(e: unknown): ErrorInfo {
  if (isOpsError(e)) return { message: e.message, hint: e.hint, reason: e.reason }
  if (e instanceof Error) return { message: e.message, reason: e.name === 'Error' ? 'Error' : e.name }
  return { message: String(e), reason: 'Error' }
}

function retryable(e: unknown): boolean {
  if (isOpsError(e)) return e.retryable
  return !(e instanceof TemplateError)
}

function hashInputs(inputs: unknown): string {
  return 'sha256:' + createHash('sha256').update(JSON.stringify(inputs ?? null)).digest('hex').slice(0, 16)
}

/** Rejects when `signal` aborts, so a step that ignores its signal cannot hang the run. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    )
  })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms)
    const onAbort = () => (clearTimeout(t), reject(signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

class Semaphore {
  #free: number
  #waiting: Array<() => void> = []
  constructor(n: number) {
    this.#free = Math.max(1, n)
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--
    else await new Promise<void>((r) => this.#waiting.push(r))
    return () => {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#free++
    }
  }
}

/**
 * Runs the DAG: every instance waits for its needs, then (bounded by maxParallel)
 * check -> plan (dry run) or apply -> verify, with retries, timeouts and `when`.
 * A failure blocks descendants while independent branches finish; finally nodes always run.
 */
export async function runWorkflow(o: RunOptions): Promise<RunResult> {
  const instances = expandInstances(o.workflow, o.params)
  const results = new Map<string, NodeState>()
  const done = new Map<string, Promise<void>>()
  const sem = new Semaphore(o.maxParallel)
  const runId = o.state?.runId

  const record = (id: string, patch: Partial<NodeState>, event?: { reason?: string; error?: ErrorInfo; attempt?: number }) => {
    const inst = instances.find((i) => i.id === id)!
    const cur: NodeState = results.get(id) ?? { node: inst.node.id, ...(inst.item !== undefined ? { item: inst.item } : {}), status: 'pending', attempts: o.previous?.nodes[id]?.attempts ?? 0 }
    const next = { ...cur, ...patch }
    results.set(id, next)
    // Saved before it is shown: what an operator saw succeed is never rerun after a crash.
    if (o.state && o.store) {
      o.state.nodes[id] = next
      o.store.save(o.state)
      o.store.appendEvent(o.state.runId, { type: 'status', node: id, status: next.status, attempt: next.attempts, reason: next.reason, error: next.error })
    }
    o.bus.emit({ type: 'status', id, status: next.status, reason: event?.reason ?? patch.reason, error: patch.error, attempt: event?.attempt, durationMs: next.durationMs, outputs: patch.outputs })
  }

  for (const inst of instances) {
    const stored = o.resume.untouched.get(inst.id)
    if (o.resume.untouched.has(inst.id)) results.set(inst.id, stored ?? { node: inst.node.id, status: 'pending', attempts: 0 })
    // A success that may be kept stays on disk as it was until the node is looked at again.
    else if (o.resume.keep.has(inst.id)) results.set(inst.id, { ...o.resume.keep.get(inst.id)! })
    else record(inst.id, { status: 'pending', error: undefined, reason: undefined })
  }
  o.bus.emit({
    type: 'run-start',
    runId,
    workflow: o.workflow.name,
    dryRun: o.dryRun,
    resumeOf: o.previous?.runId,
    instances: instances.map((i) => ({
      id: i.id,
      node: i.node.id,
      needs: i.needs,
      description: i.node.spec.description ?? '',
      isFinally: i.node.isFinally,
      interactive: Boolean(i.node.spec.interactive),
    })),
  })

  const outputsOf = (inst: Instance) => (node: string) => {
    const up = upstreamInstance(instances, inst, node)
    return up ? results.get(up.id)?.outputs : undefined
  }

  const runOne = async (inst: Instance): Promise<void> => {
    await Promise.all(inst.needs.map((d) => done.get(d)))
    if (o.resume.untouched.has(inst.id)) return
    const spec = inst.node.spec
    // After SIGINT/SIGTERM nothing new starts, except finally nodes: they always run.
    if (o.signal.aborted && !inst.node.isFinally) return
    if (!inst.node.isFinally) {
      const bad = inst.needs.filter((d) => !SATISFIED.has(results.get(d)!.status))
      if (bad.length) {
        const why = bad.map((d) => `${d} ${results.get(d)!.status}`).join(', ')
        return record(inst.id, { status: 'blocked', reason: `upstream ${why}` })
      }
    } else {
      const bad = inst.needs.filter((d) => instances.find((i) => i.id === d)!.node.isFinally && !SATISFIED.has(results.get(d)!.status))
      if (bad.length) return record(inst.id, { status: 'blocked', reason: `upstream ${bad.join(', ')} did not succeed` })
    }

    const scope: Scope = { params: o.params, outputs: outputsOf(inst), item: inst.item }
    let inputs: unknown
    let whenKnown = spec.when === undefined
    try {
      if (spec.when !== undefined && !evaluateCondition(spec.when, scope)) {
        return record(inst.id, { status: 'skipped', reason: `when: ${spec.when} is false` })
      }
      whenKnown = true
      inputs = resolveValue(spec.with ?? {}, scope)
    } catch (e) {
      if (e instanceof MissingOutputError) {
        const up = upstreamInstance(instances, inst, e.node)
        const upState = up ? results.get(up.id) : undefined
        if (upState && upState.status !== 'planned') {
          // The upstream ran (or was skipped) and simply has no such output: say which.
          const why =
            upState.status === 'skipped'
              ? `${up!.id} was skipped (${upState.reason ?? 'when'}), so its output "${e.key}" does not exist`
              : `${up!.id} finished without output "${e.key}" (it has: ${Object.keys(upState.outputs ?? {}).join(', ') || 'none'})`
          return record(inst.id, { status: 'blocked', reason: why })
        }
        if (o.dryRun) {
          // A step that can look at the world with what is known already (its probe) says more.
          if (whenKnown && (await probeInstead(inst, scope))) return
          // Upstream would change things first; this node's concrete plan depends on what it produces.
          const reason = `runs after ${e.node}; its inputs are known only after a real run`
          o.bus.emit({ type: 'plan', id: inst.id, changes: [{ verb: 'run', target: inst.id, detail: spec.description ?? spec.run }] })
          return record(inst.id, { status: 'planned', reason })
        }
        return record(inst.id, { status: 'blocked', reason: e.message })
      }
      return record(inst.id, { status: 'failed', error: errorInfo(e) })
    }

    const release = await sem.acquire()
    try {
      // The slot may have freed up after an interrupt: start nothing new then.
      if (o.signal.aborted && !inst.node.isFinally) return
      await execute(inst, inputs)
    } finally {
      release()
    }
  }

  /** Dry run of a node whose inputs wait for upstream outputs: its probe, if it has one. False if it has none. */
  const probeInstead = async (inst: Instance, scope: Scope): Promise<boolean> => {
    const spec = inst.node.spec
    const started = Date.now()
    const stamp = () => ({ finishedAt: new Date().toISOString(), durationMs: Date.now() - started })
    const step = await stepOf(inst, stamp)
    if (!step) return true
    if (!step.probe) return false
    const release = await sem.acquire()
    try {
      if (o.signal.aborted && !inst.node.isFinally) return true
      const partial = resolvePartialInputs(spec.with ?? {}, scope)
      record(inst.id, { status: 'running', attempts: (results.get(inst.id)?.attempts ?? 0) + 1, startedAt: new Date(started).toISOString() }, { attempt: 1 })
      const ctl = new AbortController()
      const onRunAbort = () => ctl.abort(new Interrupted('interrupted'))
      o.signal.addEventListener('abort', onRunAbort, { once: true })
      const timer = spec.timeout ? setTimeout(() => ctl.abort(new TimedOut(`timed out after ${spec.timeout}`)), parseDuration(spec.timeout)!) : undefined
      try {
        const ctx = contextFor(inst, partial.inputs, 1, ctl.signal, started)
        const r = await raceAbort(runProbe(step, ctx as StepContext<Record<string, unknown>>), ctl.signal)
        o.bus.emit({ type: 'plan', id: inst.id, changes: r.changes })
        record(inst.id, { status: 'planned', reason: [r.observed, unknownInputsNote(partial)].filter(Boolean).join('; '), ...stamp() })
      } catch (e) {
        const err = ctl.signal.aborted ? ctl.signal.reason : e
        if (err instanceof Interrupted) record(inst.id, { status: 'interrupted', error: { message: 'interrupted by signal', reason: 'Interrupted' }, ...stamp() })
        else record(inst.id, { status: 'failed', error: err instanceof TimedOut ? { message: err.message, reason: 'Timeout' } : errorInfo(err), ...stamp() })
      } finally {
        clearTimeout(timer)
        o.signal.removeEventListener('abort', onRunAbort)
      }
      return true
    } finally {
      release()
    }
  }

  const contextFor = (inst: Instance, inputs: unknown, attempt: number, signal: AbortSignal, started: number): StepContext<unknown> => ({
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
      o.bus.emit({ type: 'log', id: inst.id, line })
      if (o.store && runId) o.store.appendEvent(runId, { type: 'log', node: inst.id, line })
    },
    withTerminal: (fn) => o.io.withTerminal(fn),
    prompt: async (q) => (await o.io.prompt(q, signal)) ?? '',
    statuses: () => Object.fromEntries([...results].map(([id, s]) => [id, { status: s.status, reason: s.reason, error: s.error?.message }])),
  })

  /** The node's step, or undefined once its import failure is recorded as the node's failure. */
  const stepOf = async (inst: Instance, stamp: () => { finishedAt: string; durationMs: number }): Promise<StepDefinition | undefined> => {
    try {
      return await o.loadStep(inst.node.spec.run)
    } catch (e) {
      record(inst.id, { status: 'failed', error: { message: `cannot load task ${inst.node.spec.run}: ${(e as Error).message}`, reason: 'TaskLoadError' }, ...stamp() })
      return undefined
    }
  }

  const execute = async (inst: Instance, rawInputs: unknown): Promise<void> => {
    const spec = inst.node.spec
    const started = Date.now()
    const stamp = () => ({ finishedAt: new Date().toISOString(), durationMs: Date.now() - started })
    const step = await stepOf(inst, stamp)
    if (!step) return
    const parsed = step.inputs.safeParse(rawInputs)
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `with.${i.path.join('.')}: ${i.message}`).join('; ')
      return record(inst.id, { status: 'failed', error: { message: `invalid inputs for ${spec.run}: ${msg}`, reason: 'InvalidInputs', hint: `fix the node's "with" in ${o.workflow.file} or the --set values` }, ...stamp() })
    }
    const inputs = parsed.data
    const inputsHash = hashInputs(rawInputs)

    const kept = o.resume.keep.get(inst.id)
    if (kept && !step.alwaysRun && kept.inputsHash === inputsHash && kept.outputs) {
      return record(inst.id, { status: kept.status, outputs: kept.outputs, reason: `kept from run ${o.previous?.runId}`, inputsHash, attempts: kept.attempts, startedAt: kept.startedAt, finishedAt: kept.finishedAt, durationMs: kept.durationMs })
    }

    const attempts = spec.retry?.attempts ?? 1
    const backoff = parseDuration(spec.retry?.backoff ?? '1s') ?? 1000
    const timeoutMs = spec.timeout ? parseDuration(spec.timeout)! : undefined
    const prevAttempts = results.get(inst.id)?.attempts ?? 0
    record(inst.id, { status: 'running', attempts: prevAttempts + 1, startedAt: new Date(started).toISOString(), inputsHash, outputs: undefined, error: undefined, reason: undefined, finishedAt: undefined, durationMs: undefined }, { attempt: 1 })

    const makeCtx = (attempt: number, signal: AbortSignal) => contextFor(inst, inputs, attempt, signal, started)

    // Asked once, before the attempts: not under their timeout, and never again on a retry.
    if (spec.confirm && !o.yes && !o.dryRun) {
      try {
        const pre = makeCtx(1, o.signal)
        const checked = step.alwaysRun ? undefined : await step.check(pre)
        if (checked?.done) return record(inst.id, { status: 'cached', outputs: jsonOnly(checked.outputs), reason: checked.observed, ...stamp() })
        await confirm(inst, step, pre)
      } catch (e) {
        if (o.signal.aborted) return record(inst.id, { status: 'interrupted', error: { message: 'interrupted by signal', reason: 'Interrupted' }, ...stamp() })
        return record(inst.id, { status: 'failed', error: errorInfo(e), ...stamp() })
      }
    }

    for (let attempt = 1; ; attempt++) {
      const attemptCtl = new AbortController()
      const onRunAbort = () => attemptCtl.abort(new Interrupted('interrupted'))
      o.signal.addEventListener('abort', onRunAbort, { once: true })
      const timer = timeoutMs ? setTimeout(() => attemptCtl.abort(new TimedOut(`timed out after ${spec.timeout}`)), timeoutMs) : undefined
      const ctx = makeCtx(attempt, attemptCtl.signal)
      // Persist each attempt as it starts, so a crash mid-attempt still counts it.
      if (attempt > 1) record(inst.id, { status: 'running', attempts: prevAttempts + attempt }, { attempt })
      try {
        const outcome = await raceAbort(attemptOnce(inst, step, ctx), attemptCtl.signal)
        if (outcome.kind === 'cached') return record(inst.id, { status: 'cached', outputs: outcome.outputs, reason: outcome.observed, ...stamp() })
        if (outcome.kind === 'planned') {
          o.bus.emit({ type: 'plan', id: inst.id, changes: outcome.changes })
          return record(inst.id, { status: 'planned', outputs: outcome.outputs, reason: outcome.reason, ...stamp() })
        }
        return record(inst.id, { status: 'succeeded', outputs: outcome.outputs, ...stamp() })
      } catch (e) {
        const err = attemptCtl.signal.aborted ? attemptCtl.signal.reason : e
        if (err instanceof Interrupted || (o.signal.aborted && !inst.node.isFinally)) {
          return record(inst.id, { status: 'interrupted', error: { message: 'interrupted by signal', reason: 'Interrupted' }, ...stamp() })
        }
        const info = err instanceof TimedOut ? { message: err.message, reason: 'Timeout' } : errorInfo(err)
        const canRetry = attempt < attempts && (err instanceof TimedOut || retryable(err))
        if (!canRetry) return record(inst.id, { status: 'failed', error: info, ...stamp() })
        const delayMs = backoff * 2 ** (attempt - 1)
        o.bus.emit({ type: 'retry', id: inst.id, attempt: attempt + 1, delayMs, error: info })
        if (o.store && runId) o.store.appendEvent(runId, { type: 'retry', node: inst.id, attempt: attempt + 1, delayMs, error: info })
        try {
          await sleep(delayMs, o.signal)
        } catch {
          return record(inst.id, { status: 'interrupted', error: { message: 'interrupted by signal', reason: 'Interrupted' }, ...stamp() })
        }
      } finally {
        clearTimeout(timer)
        o.signal.removeEventListener('abort', onRunAbort)
      }
    }
  }

  type Outcome =
    | { kind: 'cached'; outputs: Outputs; observed: string }
    | { kind: 'planned'; outputs?: Outputs; changes: { verb: string; target: string; detail?: string }[]; reason: string }
    | { kind: 'applied'; outputs: Outputs }

  const attemptOnce = async (inst: Instance, step: StepDefinition, ctx: StepContext<unknown>): Promise<Outcome> => {
    const spec = inst.node.spec
    // An alwaysRun step (a read-only verification) is its own apply: checking first would only do the work twice.
    const checked: Awaited<ReturnType<StepDefinition['check']>> = step.alwaysRun ? { done: false, reason: 'verifies on every run' } : await step.check(ctx)
    if (checked.done) return { kind: 'cached', outputs: jsonOnly(checked.outputs), observed: checked.observed }
    const reason = checked.reason
    if (checked.observed) ctx.log(checked.observed)
    if (o.dryRun) {
      const plan = await step.plan(ctx)
      return { kind: 'planned', outputs: plan.outputs ? jsonOnly(plan.outputs) : undefined, changes: plan.changes, reason }
    }
    if (spec.interactive && !o.interactive) {
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

  const confirm = async (inst: Instance, step: StepDefinition, ctx: StepContext<unknown>): Promise<void> => {
    if (!o.interactive) {
      throw new OpsError(`${inst.id} changes things and needs confirmation`, { reason: 'NeedsConfirmation', hint: 'pass --yes (or CREDFLOW_YES=1) to confirm non-interactively' })
    }
    const plan = await step.plan(ctx)
    const lines = plan.changes.map((c) => `  ${c.verb} ${c.target}${c.detail ? ` (${c.detail})` : ''}`)
    for (const l of lines) ctx.log(`will${l.slice(1)}`)
    // The question carries the changes itself: the live view steps aside while it is asked.
    const answer = await o.io.prompt(`\n${inst.id} will:\n${lines.join('\n')}\nApply ${plan.changes.length} change(s)? [y/N] `, o.signal)
    if (answer === null || !/^y(es)?$/i.test(answer.trim())) {
      throw new OpsError(`${inst.id}: not confirmed, nothing changed`, { reason: 'NotConfirmed', hint: 'rerun and answer y, or pass --yes' })
    }
  }

  for (const inst of instances) done.set(inst.id, runOne(inst).catch((e) => record(inst.id, { status: 'failed', error: errorInfo(e) })))
  await Promise.all(done.values())

  // The exit code answers for what this invocation ran (--only runs one node); the run's
  // status answers for the whole workflow, so a resume knows whether anything is left.
  const ran = instances.filter((i) => !o.resume.untouched.has(i.id)).map((i) => results.get(i.id)!.status)
  const all = instances.map((i) => results.get(i.id)!.status)
  const bad = (s: NodeStatus) => s === 'failed' || s === 'blocked'
  const exitCode = ran.includes('interrupted') || o.signal.aborted ? 130 : ran.some(bad) ? 1 : 0
  const status: RunStatus =
    exitCode === 130 ? 'interrupted' : all.some(bad) ? 'failed' : o.dryRun ? 'planned' : all.every((s) => SATISFIED.has(s)) ? 'succeeded' : 'incomplete'
  return { status, exitCode, nodes: Object.fromEntries(results), instances }
}

/** Outputs must be plain JSON; SecretValue serialises to its fingerprint, so material cannot slip through. */
function jsonOnly(outputs: Outputs): Outputs {
  return JSON.parse(JSON.stringify(outputs ?? {}))
}

