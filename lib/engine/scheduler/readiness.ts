import { SATISFIED } from '../events.ts'
import { upstreamInstance, type Instance } from '../instances.ts'
import { evaluateCondition, MissingOutputError, resolveValue, type Scope } from '../template.ts'
import type { NodeState } from '../state.ts'
import type { ErrorInfo } from '../events.ts'
import { errorInfo } from './errors.ts'

/**
 * Why a node whose needs have finished may not start, or undefined when it may. A finally node
 * runs whatever happened before it, except after a finally node it needs.
 */
export function upstreamProblem(inst: Instance, instances: Instance[], stateOf: (id: string) => NodeState | undefined): string | undefined {
  if (!inst.node.isFinally) {
    const bad = inst.needs.filter((d) => !SATISFIED.has(stateOf(d)!.status))
    return bad.length ? `upstream ${bad.map((d) => `${d} ${stateOf(d)!.status}`).join(', ')}` : undefined
  }
  const bad = inst.needs.filter((d) => instances.find((i) => i.id === d)!.node.isFinally && !SATISFIED.has(stateOf(d)!.status))
  return bad.length ? `upstream ${bad.join(', ')} did not succeed` : undefined
}

/** What a node's `when` and `with` come to, given its upstream outputs so far. */
export type InputsVerdict =
  | { kind: 'ready'; inputs: unknown }
  | { kind: 'skipped'; reason: string }
  | { kind: 'blocked'; reason: string }
  | { kind: 'failed'; error: ErrorInfo }
  /** An upstream that has not really run (a dry run plans it) owes an output: known only after a real run. */
  | { kind: 'unknown'; upstream: string; message: string; whenKnown: boolean }

export function resolveInputs(inst: Instance, instances: Instance[], scope: Scope, stateOf: (id: string) => NodeState | undefined): InputsVerdict {
  const spec = inst.node.spec
  let whenKnown = spec.when === undefined
  try {
    if (spec.when !== undefined && !evaluateCondition(spec.when, scope)) return { kind: 'skipped', reason: `when: ${spec.when} is false` }
    whenKnown = true
    return { kind: 'ready', inputs: resolveValue(spec.with ?? {}, scope) }
  } catch (e) {
    if (!(e instanceof MissingOutputError)) return { kind: 'failed', error: errorInfo(e) }
    const up = upstreamInstance(instances, inst, e.node)
    const upState = up ? stateOf(up.id) : undefined
    if (upState && upState.status !== 'planned') {
      // The upstream ran (or was skipped) and simply has no such output: say which.
      const reason =
        upState.status === 'skipped'
          ? `${up!.id} was skipped (${upState.reason ?? 'when'}), so its output "${e.key}" does not exist`
          : `${up!.id} finished without output "${e.key}" (it has: ${Object.keys(upState.outputs ?? {}).join(', ') || 'none'})`
      return { kind: 'blocked', reason }
    }
    return { kind: 'unknown', upstream: e.node, message: e.message, whenKnown }
  }
}
