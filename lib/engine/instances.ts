import type { Workflow, WorkflowNode } from './load.ts'

/** A node after `forEach` expansion: what the scheduler runs, the state records and the renderers show. */
export interface Instance {
  id: string
  node: WorkflowNode
  item?: unknown
  /** Instance ids this one waits for. */
  needs: string[]
}

export function instanceKey(item: unknown, index: number, key?: string): string {
  if (key && item && typeof item === 'object' && key in item) return String((item as Record<string, unknown>)[key])
  if (typeof item === 'string' || typeof item === 'number') return String(item)
  if (item && typeof item === 'object') {
    for (const k of ['name', 'namespace', 'id']) if (k in item) return String((item as Record<string, unknown>)[k])
  }
  return String(index)
}

/**
 * Expands forEach nodes over their list param. A forEach node that needs another node
 * expanded over the same param waits only for the instance of the same item; any other
 * dependency waits for every instance of it. Finally nodes wait for every regular instance.
 */
export function expandInstances(wf: Workflow, params: Record<string, unknown>): Instance[] {
  const byNode = new Map<string, Instance[]>()
  const out: Instance[] = []
  for (const node of wf.nodes) {
    const items = node.forEach ? ((params[node.forEach.param] as unknown[] | undefined) ?? []) : [undefined]
    const list: Instance[] = items.map((item, i) => ({
      id: node.forEach ? `${node.id}[${instanceKey(item, i, node.forEach.key)}]` : node.id,
      node,
      item,
      needs: [],
    }))
    const seen = new Set<string>()
    for (const inst of list) {
      if (seen.has(inst.id)) inst.id = `${inst.id}#${list.indexOf(inst)}`
      seen.add(inst.id)
      for (const dep of node.needs) {
        const depInstances = byNode.get(dep) ?? []
        const depNode = wf.byId.get(dep)!
        if (node.forEach && depNode.forEach?.param === node.forEach.param) {
          const same = depInstances.find((d) => d.item === inst.item)
          if (same) inst.needs.push(same.id)
        } else inst.needs.push(...depInstances.map((d) => d.id))
      }
      if (node.isFinally) {
        for (const regular of out.filter((o) => !o.node.isFinally)) if (!inst.needs.includes(regular.id)) inst.needs.push(regular.id)
      }
    }
    byNode.set(node.id, list)
    out.push(...list)
  }
  return out
}

/** The aligned instance of `node` for `inst`'s item, for resolving `needs.<node>.outputs`. */
export function upstreamInstance(all: Instance[], inst: Instance, node: string): Instance | undefined {
  const candidates = all.filter((i) => i.node.id === node)
  if (candidates.length <= 1) return candidates[0]
  return candidates.find((c) => c.item === inst.item)
}
