import pLimit from 'p-limit'
import type { Workflow } from './load.ts'
import { expandInstances, type Instance } from './instances.ts'
import type { EventBus, RunStatus } from './events.ts'
import type { ResumePlan } from './resume.ts'
import type { NextCommands } from './command.ts'
import type { NodeState, RunState, StateStore } from './state.ts'
import type { StepDefinition } from './step.ts'
import { errorInfo } from './scheduler/errors.ts'
import { NodeLedger } from './scheduler/ledger.ts'
import { executeNode, probeNode, scopeOf, type RunScope } from './scheduler/node-run.ts'
import { resolveInputs, upstreamProblem } from './scheduler/readiness.ts'
import { summarise, type WaitingFor } from './scheduler/summary.ts'
import { ConfirmGate } from './scheduler/confirm.ts'
import type { PlannedNode } from './render/confirm.ts'

export interface TerminalIo {
  /** `fn` owns the terminal (the live view steps aside); `who` says which node, and until when its timeout lets it. */
  withTerminal<T>(fn: () => Promise<T>, who?: { node: string; deadline?: Date }): Promise<T>
  /** One line from the operator; null at end of input or when `signal` aborts. */
  prompt(question: string, signal?: AbortSignal): Promise<string | null>
  /** Shows the whole plan and asks once; true only for an explicit yes. */
  confirm(plan: PlannedNode[], signal?: AbortSignal): Promise<boolean>
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
  /** Nodes left unrun because the operator answered no at the confirmation. */
  declined: string[]
}

/**
 * Runs the DAG, a loop over named phases: plan the instances and seed the ledger; then for every
 * instance at once, wait for its needs, decide whether it may start (upstream, `when`, inputs),
 * take one of maxParallel slots and run it (scheduler/node-run.ts); the ledger records every
 * transition; finally summarise. A failure blocks descendants while independent branches
 * finish; finally nodes always run.
 */
export async function runWorkflow(o: RunOptions): Promise<RunResult> {
  const instances = expandInstances(o.workflow, o.params)
  const ledger = new NodeLedger(instances, o)
  ledger.seed(o.resume)
  o.bus.emit(runStartEvent(o, instances))

  const run: RunScope = { o, instances, ledger, limit: pLimit(Math.max(1, o.maxParallel)), gate: new ConfirmGate() }
  const done = new Map<string, Promise<void>>()
  for (const inst of instances) {
    const needs = Promise.all(inst.needs.map((d) => done.get(d)))
    done.set(inst.id, needs.then(() => runNode(run, inst)).catch((e) => ledger.failed(inst.id, errorInfo(e))))
  }
  await Promise.all(done.values())

  const statusOf = (i: Instance) => ledger.status(i.id)
  const ran = instances.filter((i) => !o.resume.untouched.has(i.id))
  const failures = ran.filter((i) => statusOf(i) === 'failed')
  const verdict = summarise({ ran: ran.map(statusOf), all: instances.map(statusOf), aborted: o.signal.aborted, dryRun: o.dryRun, waitingFor: waitingFor(failures.map((i) => ledger.get(i.id)!.error?.reason)) })
  return { ...verdict, nodes: ledger.snapshot(), instances, declined: [...run.gate.declined] }
}

/** What every failure waits for: all confirmations, or confirmations and consents (a person); undefined beside any real error. */
function waitingFor(reasons: Array<string | undefined>): WaitingFor | undefined {
  if (reasons.length === 0) return undefined
  if (reasons.every((r) => r === 'NeedsConfirmation')) return 'confirmation'
  if (reasons.every((r) => r === 'NeedsConfirmation' || r === 'NeedsOperator')) return 'operator'
  return undefined
}

/** One instance whose needs have finished: decide whether it may start, then run it in a slot. */
async function runNode(run: RunScope, inst: Instance): Promise<void> {
  const { o, instances, ledger } = run
  if (o.resume.untouched.has(inst.id)) return
  // After SIGINT/SIGTERM nothing new starts, except finally nodes: they always run.
  if (o.signal.aborted && !inst.node.isFinally) return
  const stateOf = (id: string) => ledger.get(id)
  // After an "n", what depends on the unconfirmed nodes stays pending too: a resume runs it.
  const waiting = inst.node.isFinally ? [] : inst.needs.filter((d) => run.gate.declined.has(d))
  if (waiting.length) {
    run.gate.declined.add(inst.id)
    return ledger.pending(inst.id, `not run: ${waiting.join(', ')} not confirmed`)
  }
  const problem = upstreamProblem(inst, instances, stateOf)
  if (problem) return ledger.blocked(inst.id, problem)

  const scope = scopeOf(run, inst)
  const verdict = resolveInputs(inst, instances, scope, stateOf)
  switch (verdict.kind) {
    case 'skipped':
      return ledger.skipped(inst.id, verdict.reason)
    case 'blocked':
      return ledger.blocked(inst.id, verdict.reason)
    case 'failed':
      return ledger.failed(inst.id, verdict.error)
    case 'unknown':
      if (!o.dryRun) return ledger.blocked(inst.id, verdict.message)
      // A step that can look at the world with what is known already (its probe) says more.
      if (verdict.whenKnown && (await probeNode(run, inst, scope))) return
      // Upstream would change things first; this node's concrete plan depends on what it produces.
      o.bus.emit({ type: 'plan', id: inst.id, changes: [{ verb: 'run', target: inst.id, detail: inst.node.spec.description ?? inst.node.spec.run }] })
      return ledger.finished(inst.id, 'planned', { reason: `runs after ${verdict.upstream}; its inputs are known only after a real run` })
  }
  await run.limit(async () => {
    // The slot may have freed up after an interrupt: start nothing new then.
    if (o.signal.aborted && !inst.node.isFinally) return
    await executeNode(run, inst, verdict.inputs)
  })
}

function runStartEvent(o: RunOptions, instances: Instance[]) {
  return {
    type: 'run-start' as const,
    runId: o.state?.runId,
    workflow: o.workflow.name,
    dryRun: o.dryRun,
    resumeOf: o.previous?.runId,
    instances: instances.map((i) => ({ id: i.id, node: i.node.id, needs: i.needs, description: i.node.spec.description ?? '', isFinally: i.node.isFinally, interactive: Boolean(i.node.spec.interactive) })),
  }
}
