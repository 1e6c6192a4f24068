import { descendantsOf } from './graph.ts'
import type { Instance } from './instances.ts'
import type { NodeState, RunState } from './state.ts'
import { describeDefinitionChange, type DefinitionHashes } from './definition.ts'

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

export interface Drift {
  /** What changed in a way that matters, in words: a resume refuses unless --force. */
  changes: string[]
  /** Set when the file changed only in layout or comments: the resume may go on. */
  cosmetic?: string
}

/** What changed since `prev` was recorded. Secret params are recorded as fingerprints and named without values. */
export function describeDrift(prev: RunState, wf: { hash: string; definition: DefinitionHashes }, params: Record<string, unknown>, secret: (name: string) => boolean): Drift {
  const changes: string[] = []
  let cosmetic: string | undefined
  if (prev.workflowHash !== wf.hash) {
    const file = `workflow file changed (${prev.workflowHash.slice(0, 19)}… -> ${wf.hash.slice(0, 19)}…)`
    if (!prev.definition) changes.push(`${file}; the run was recorded without per-node hashes, so what changed cannot be told: compare the file with your last known version`)
    else {
      const what = describeDefinitionChange(prev.definition, wf.definition)
      if (what.length) changes.push(`${file}: ${what.join('; ')}`)
      else cosmetic = `the workflow file changed only in comments or layout since run ${prev.runId} (every node and param is defined as before)`
    }
  }
  const keys = new Set([...Object.keys(prev.params), ...Object.keys(params)])
  for (const k of keys) {
    const a = JSON.stringify(prev.params[k])
    const b = JSON.stringify(params[k])
    if (a === b) continue
    changes.push(secret(k) ? `param ${k} changed (secret: values not shown)` : `param ${k}: ${a ?? '(unset)'} -> ${b ?? '(unset)'}`)
  }
  return { changes, cosmetic }
}
