import { descendantsOf } from './graph.ts'
import type { Instance } from './instances.ts'
import type { NodeState, RunState } from './state.ts'

export type ResumeMode = { kind: 'fresh' } | { kind: 'resume' } | { kind: 'from'; node: string } | { kind: 'only'; node: string }

export interface ResumePlan {
  /** Instances whose previous success may be kept (the scheduler still compares inputs). */
  keep: Map<string, NodeState>
  /** Instances that will not run at all in this invocation (--only): their stored state stands. */
  untouched: Map<string, NodeState | undefined>
}

/**
 * Argo's retry semantics: keep what succeeded, rerun what failed, was blocked, interrupted
 * or never ran. `from` also reruns a node and its descendants; `only` runs one node.
 * A rerun node still starts with check(), so rerunning is always safe.
 */
export function planResume(instances: Instance[], prev: RunState | undefined, mode: ResumeMode): ResumePlan {
  const keep = new Map<string, NodeState>()
  const untouched = new Map<string, NodeState | undefined>()
  // NODE names a node (every instance of it) or one instance, e.g. update-secret[basketball-api].
  const picked = (i: Instance) => mode.kind !== 'fresh' && mode.kind !== 'resume' && (i.node.id === mode.node || i.id === mode.node)
  if (mode.kind === 'fresh' || !prev) {
    if (mode.kind === 'only') for (const i of instances) if (!picked(i)) untouched.set(i.id, undefined)
    return { keep, untouched }
  }
  const kept = (i: Instance) => {
    const s = prev.nodes[i.id]
    return s && (s.status === 'succeeded' || s.status === 'cached') ? s : undefined
  }
  if (mode.kind === 'only') {
    for (const i of instances) if (!picked(i)) untouched.set(i.id, prev.nodes[i.id])
    return { keep, untouched }
  }
  const rerun =
    mode.kind === 'from'
      ? descendantsOf(new Map(instances.map((i) => [i.id, i.needs])), instances.filter(picked).map((i) => i.id))
      : new Set<string>()
  for (const i of instances) {
    if (rerun.has(i.id) || i.node.isFinally) continue
    const s = kept(i)
    if (s) keep.set(i.id, s)
  }
  return { keep, untouched }
}

/** What changed since `prev` was recorded, in words; empty when nothing did. */
export function describeDrift(prev: RunState, workflowHash: string, params: Record<string, unknown>): string[] {
  const out: string[] = []
  if (prev.workflowHash !== workflowHash) out.push(`workflow file changed (${prev.workflowHash.slice(0, 19)}… -> ${workflowHash.slice(0, 19)}…)`)
  const keys = new Set([...Object.keys(prev.params), ...Object.keys(params)])
  for (const k of keys) {
    const a = JSON.stringify(prev.params[k])
    const b = JSON.stringify(params[k])
    if (a !== b) out.push(`param ${k}: ${a ?? '(unset)'} -> ${b ?? '(unset)'}`)
  }
  return out
}
