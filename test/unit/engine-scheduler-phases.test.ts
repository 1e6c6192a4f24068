// The scheduler's phases alone, without the CLI or any step: what decides that a node may start,
// what its inputs come to, how the ledger records a transition, how an attempt is bounded, and
// how the run's status and exit code follow from the nodes' statuses.
import { describe, it, expect } from 'vitest'
import { parseWorkflow } from '../../lib/engine/load.ts'
import { expandInstances } from '../../lib/engine/instances.ts'
import { EventBus, type EngineEvent, type NodeStatus } from '../../lib/engine/events.ts'
import type { NodeState, RunState, StateStore } from '../../lib/engine/state.ts'
import { EXIT } from '../../lib/engine/exit-codes.ts'
import { NodeLedger } from '../../lib/engine/scheduler/ledger.ts'
import { resolveInputs, upstreamProblem } from '../../lib/engine/scheduler/readiness.ts'
import { summarise } from '../../lib/engine/scheduler/summary.ts'
import { underAttemptSignal } from '../../lib/engine/scheduler/attempt-signal.ts'
import { Interrupted, TimedOut, errorInfo, retryable } from '../../lib/engine/scheduler/errors.ts'
import { OpsError } from '../../lib/errors.ts'

const WF = `
version: 1
name: phases
description: unit fixture
params:
  go: { type: boolean, default: true }
  targets: { type: list, default: [one, two] }
nodes:
  a: { run: demo/touch, with: { file: x } }
  b: { run: demo/touch, needs: [a], when: "\${{ params.go }}", with: { file: "\${{ needs.a.outputs.file }}" } }
  c: { run: demo/touch, needs: [b], forEach: targets, with: { file: "\${{ item }}" } }
finally:
  report: { run: demo/report, with: { file: r } }
`
const wf = parseWorkflow(WF, 'phases.yaml', { taskExists: () => true })
const instances = expandInstances(wf, { go: true, targets: ['one', 'two'] })
const inst = (id: string) => instances.find((i) => i.id === id)!
const states = (m: Record<string, Partial<NodeState>>) => (id: string) => (m[id] ? ({ node: id, attempts: 0, ...m[id] } as NodeState) : undefined)
const scope = (outputs: Record<string, Record<string, unknown>>, params: Record<string, unknown> = { go: true }) => ({ params, outputs: (n: string) => outputs[n] })

describe('upstreamProblem: whether a node whose needs finished may start', () => {
  it('lets a node start after satisfied needs, and blocks it naming each unsatisfied one', () => {
    expect(upstreamProblem(inst('b'), instances, states({ a: { status: 'cached' } }))).toBeUndefined()
    expect(upstreamProblem(inst('b'), instances, states({ a: { status: 'failed' } }))).toBe('upstream a failed')
    expect(upstreamProblem(inst('c[one]'), instances, states({ b: { status: 'blocked' } }))).toBe('upstream b blocked')
  })
  it('runs a finally node whatever the other nodes did', () => {
    const all = Object.fromEntries(instances.filter((i) => !i.node.isFinally).map((i) => [i.id, { status: 'failed' as NodeStatus }]))
    expect(upstreamProblem(inst('report'), instances, states(all))).toBeUndefined()
  })
})

describe('resolveInputs: what when and with come to', () => {
  it('resolves inputs from upstream outputs', () => {
    expect(resolveInputs(inst('b'), instances, scope({ a: { file: 'f' } }), states({ a: { status: 'succeeded', outputs: { file: 'f' } } }))).toEqual({ kind: 'ready', inputs: { file: 'f' } })
  })
  it('skips on a false when, naming the condition', () => {
    expect(resolveInputs(inst('b'), instances, scope({}, { go: false }), states({}))).toEqual({ kind: 'skipped', reason: 'when: ${{ params.go }} is false' })
  })
  it('blocks when an upstream that ran has no such output, naming what it has', () => {
    const v = resolveInputs(inst('b'), instances, scope({ a: { other: 1 } }), states({ a: { status: 'succeeded', outputs: { other: 1 } } }))
    expect(v).toEqual({ kind: 'blocked', reason: 'a finished without output "file" (it has: other)' })
  })
  it('reports an output owed by an upstream that was only planned as unknown, not as a failure', () => {
    const v = resolveInputs(inst('b'), instances, scope({}), states({ a: { status: 'planned' } }))
    expect(v).toMatchObject({ kind: 'unknown', upstream: 'a', whenKnown: true })
  })
})

describe('NodeLedger: the run state and its transitions', () => {
  function ledger(previous?: RunState) {
    const order: string[] = []
    const bus = new EventBus()
    const events: EngineEvent[] = []
    bus.on((e) => (order.push(`show ${e.type}`), events.push(e)))
    const state = { runId: 'r1', nodes: {} } as unknown as RunState
    const store = { save: () => order.push('save'), appendEvent: () => order.push('append') } as unknown as StateStore
    return { l: new NodeLedger(instances, { bus, state, store, previous }), order, events, state }
  }
  it('saves every transition before it shows it', () => {
    const { l, order } = ledger()
    l.blocked('a', 'why')
    expect(order).toEqual(['save', 'append', 'show status'])
  })
  it('counts attempts across retries and across the run it continues', () => {
    const prev = { nodes: { a: { node: 'a', status: 'failed', attempts: 2 } } } as unknown as RunState
    const { l, state } = ledger(prev)
    l.seed({ keep: new Map(), untouched: new Map() })
    l.running('a', 1)
    l.running('a', 2)
    expect(state.nodes.a).toMatchObject({ status: 'running', attempts: 4 })
  })
  it('seeds untouched and kept instances as they are, every other one pending', () => {
    const { l, state } = ledger()
    const kept: NodeState = { node: 'a', status: 'succeeded', attempts: 1, outputs: { file: 'x' } }
    l.seed({ keep: new Map([['a', kept]]), untouched: new Map([['report', undefined]]) })
    expect(l.get('a')).toEqual(kept)
    expect(l.get('report')).toEqual({ node: 'report', status: 'pending', attempts: 0 })
    expect(Object.keys(state.nodes).sort()).toEqual(['b', 'c[one]', 'c[two]'])
    expect(l.status('c[two]')).toBe('pending')
  })
  it('records an interrupt as an error a renderer can show', () => {
    const { l, events } = ledger()
    l.interrupted('a', { finishedAt: 'now', durationMs: 5 })
    expect(events.at(-1)).toMatchObject({ type: 'status', id: 'a', status: 'interrupted', error: { reason: 'Interrupted' }, durationMs: 5 })
  })
})

describe('underAttemptSignal: one attempt, bounded', () => {
  it("rejects with TimedOut at the node's timeout, even when the step ignores its signal", async () => {
    const never = new Promise<never>(() => {})
    await expect(underAttemptSignal(new AbortController().signal, '30ms', () => never)).rejects.toBeInstanceOf(TimedOut)
  })
  it('rejects with Interrupted when the run is interrupted, and the step sees its signal abort', async () => {
    const run = new AbortController()
    let seen: AbortSignal | undefined
    const p = underAttemptSignal(run.signal, undefined, (s) => ((seen = s), new Promise<never>(() => {})))
    run.abort(new Error('SIGINT'))
    await expect(p).rejects.toBeInstanceOf(Interrupted)
    expect(seen?.aborted).toBe(true)
  })
  it('runs a finally node started after the interrupt to its end', async () => {
    const run = new AbortController()
    run.abort(new Error('SIGINT'))
    await expect(underAttemptSignal(run.signal, undefined, async (s) => (s.aborted ? 'aborted' : 'ran'))).resolves.toBe('ran')
  })
})

describe('errors: what is retried and how it is shown', () => {
  it('retries a timeout and a retryable OpsError, not a fatal one', () => {
    expect(retryable(new TimedOut('timed out after 1s'))).toBe(true)
    expect(retryable(new OpsError('x', { reason: 'Conflict', retryable: true }))).toBe(true)
    expect(retryable(new OpsError('x', { reason: 'Forbidden', retryable: false }))).toBe(false)
    expect(errorInfo(new TimedOut('timed out after 1s'))).toEqual({ message: 'timed out after 1s', reason: 'Timeout' })
  })
})

describe('summarise: the run status and the exit code', () => {
  const s = (ran: NodeStatus[], all = ran, o: { aborted?: boolean; dryRun?: boolean } = {}) => summarise({ ran, all, aborted: o.aborted ?? false, dryRun: o.dryRun ?? false })
  it('succeeds when every node is satisfied', () => expect(s(['succeeded', 'cached', 'skipped'])).toEqual({ status: 'succeeded', exitCode: EXIT.ok }))
  it('fails on a failed or blocked node', () => expect(s(['succeeded', 'blocked'])).toEqual({ status: 'failed', exitCode: EXIT.failed }))
  it('exits 4 when every failure waits for a person (consent), 2 when every one is a confirmation no terminal gave, 1 beside a real error', () => {
    const w = (waitingFor?: 'confirmation' | 'operator') => summarise({ ran: ['failed', 'blocked'], all: ['failed', 'blocked'], aborted: false, dryRun: false, waitingFor })
    expect(w('operator')).toEqual({ status: 'failed', exitCode: EXIT.needsOperator })
    expect(w('confirmation')).toEqual({ status: 'failed', exitCode: EXIT.usage })
    expect(w()).toEqual({ status: 'failed', exitCode: EXIT.failed })
    expect(summarise({ ran: ['failed'], all: ['failed'], aborted: true, dryRun: false, waitingFor: 'operator' }).exitCode).toBe(EXIT.interrupted)
  })
  it('is interrupted when the signal came, whatever the nodes say', () => expect(s(['succeeded'], ['succeeded'], { aborted: true })).toEqual({ status: 'interrupted', exitCode: EXIT.interrupted }))
  it('answers for what --only ran with the exit code, for the workflow with the status', () => {
    expect(s(['succeeded'], ['succeeded', 'pending'])).toEqual({ status: 'incomplete', exitCode: EXIT.ok })
    expect(s(['succeeded'], ['succeeded', 'failed'])).toEqual({ status: 'failed', exitCode: EXIT.ok })
  })
  it('is planned after a dry run', () => expect(s(['planned', 'cached'], undefined, { dryRun: true })).toEqual({ status: 'planned', exitCode: EXIT.ok }))
})
