import { crashPoint } from '../../crash-point.ts'
import type { EventBus, ErrorInfo, NodeStatus } from '../events.ts'
import type { Instance } from '../instances.ts'
import type { ResumePlan } from '../resume.ts'
import type { NodeState, RunState, StateStore } from '../state.ts'
import type { Change } from '../step.ts'

/** When a node's work started and ended, as recorded with its final status. */
export type Stamp = { finishedAt: string; durationMs: number }

export function stampSince(started: number): () => Stamp {
  return () => ({ finishedAt: new Date().toISOString(), durationMs: Date.now() - started })
}

const INTERRUPTED: ErrorInfo = { message: 'interrupted by signal', reason: 'Interrupted' }

/**
 * The run's only mutable state: every instance's NodeState. Each transition is saved (state.json
 * and events.jsonl, in a real run) before it is shown on the bus, so what an operator saw succeed
 * is never rerun after a crash.
 */
export class NodeLedger {
  readonly #byId: Map<string, Instance>
  readonly #nodes = new Map<string, NodeState>()
  readonly #o: { bus: EventBus; state?: RunState; store?: StateStore; previous?: RunState }
  /** While seeding: what each record would publish, held until the one save of them all. */
  #held?: Array<() => void>

  constructor(instances: Instance[], o: { bus: EventBus; state?: RunState; store?: StateStore; previous?: RunState }) {
    this.#byId = new Map(instances.map((i) => [i.id, i]))
    this.#o = o
  }

  /**
   * Before anything runs: untouched instances (--only) and kept successes stay as they are on disk
   * until looked at again; every other instance is recorded pending.
   */
  seed(resume: ResumePlan): void {
    // One save for all of them, not one (two fsyncs) per instance: the pending records are
    // only worth having together, and each is still on disk before it is published.
    this.#held = []
    for (const [id, inst] of this.#byId) {
      if (resume.untouched.has(id)) this.#nodes.set(id, resume.untouched.get(id) ?? { node: inst.node.id, status: 'pending', attempts: 0 })
      else if (resume.keep.has(id)) this.#nodes.set(id, { ...resume.keep.get(id)! })
      else this.record(id, { status: 'pending', error: undefined, reason: undefined })
    }
    const held = this.#held
    this.#held = undefined
    const { state, store } = this.#o
    if (state && store && held.length) store.save(state)
    for (const publish of held) publish()
  }

  get(id: string): NodeState | undefined {
    return this.#nodes.get(id)
  }

  status(id: string): NodeStatus {
    return this.#nodes.get(id)!.status
  }

  /** The whole ledger, as RunResult.nodes. */
  snapshot(): Record<string, NodeState> {
    return Object.fromEntries(this.#nodes)
  }

  /** What StepContext.statuses() shows a step: status, reason and error message per instance. */
  statuses(): Record<string, { status: NodeStatus; reason?: string; error?: string }> {
    return Object.fromEntries([...this.#nodes].map(([id, s]) => [id, { status: s.status, reason: s.reason, error: s.error?.message }]))
  }

  blocked(id: string, reason: string): void {
    this.record(id, { status: 'blocked', reason })
  }

  skipped(id: string, reason: string): void {
    this.record(id, { status: 'skipped', reason })
  }

  /** An attempt starts: counted on disk before it runs, so a crash mid-attempt still counts it. */
  running(id: string, attempt: number, patch: Partial<NodeState> = {}): void {
    this.record(id, { status: 'running', attempts: (this.get(id)?.attempts ?? 0) + 1, ...patch }, attempt)
  }

  /** Left unrun on purpose ("n" at the confirmation, or after a node left so): a resume runs it. */
  pending(id: string, reason: string, stamp?: Stamp): void {
    this.record(id, { status: 'pending', reason, ...stamp })
  }

  /** A change apply made (StepContext.changed): kept with the node, saved, and shown. */
  changed(id: string, change: Change): void {
    const cur = this.#nodes.get(id)!
    const next = { ...cur, changes: [...(cur.changes ?? []), change] }
    this.#nodes.set(id, next)
    const { bus, state, store } = this.#o
    if (state && store) {
      state.nodes[id] = next
      store.save(state)
      store.appendEvent(state.runId, { type: 'change', node: id, change })
    }
    bus.emit({ type: 'change', id, change })
  }

  failed(id: string, error: ErrorInfo, stamp?: Stamp): void {
    this.record(id, { status: 'failed', error, ...stamp })
  }

  interrupted(id: string, stamp: Stamp): void {
    this.record(id, { status: 'interrupted', error: { ...INTERRUPTED }, ...stamp })
  }

  /** A finished node: succeeded, cached, planned, or a kept success. */
  finished(id: string, status: 'succeeded' | 'cached' | 'planned', patch: Partial<NodeState>): void {
    this.record(id, { status, ...patch })
  }

  /** A success of the run being continued whose inputs are unchanged: recorded as it was, not redone. */
  kept(id: string, kept: NodeState, fromRun: string | undefined): void {
    const { status, outputs, inputsHash, attempts, startedAt, finishedAt, durationMs } = kept
    this.record(id, { status, outputs, reason: `kept from run ${fromRun}`, inputsHash, attempts, startedAt, finishedAt, durationMs })
  }

  record(id: string, patch: Partial<NodeState>, attempt?: number): void {
    const inst = this.#byId.get(id)!
    const { bus, state, store, previous } = this.#o
    const cur: NodeState = this.#nodes.get(id) ?? { node: inst.node.id, ...(inst.item !== undefined ? { item: inst.item } : {}), status: 'pending', attempts: previous?.nodes[id]?.attempts ?? 0 }
    const next = { ...cur, ...patch }
    this.#nodes.set(id, next)
    if (state && store) state.nodes[id] = next
    const publish = () => {
      if (state && store) {
        store.appendEvent(state.runId, { type: 'status', node: id, status: next.status, attempt: next.attempts, reason: next.reason, error: next.error })
        if (next.status === 'succeeded' || next.status === 'cached') crashPoint(`after:${id}`) // a step boundary, for the crash matrix
      }
      bus.emit({ type: 'status', id, status: next.status, reason: patch.reason, error: patch.error, attempt, durationMs: next.durationMs, outputs: patch.outputs })
    }
    if (this.#held) return void this.#held.push(publish)
    if (state && store) store.save(state)
    publish()
  }
}
