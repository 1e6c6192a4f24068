/**
 * Pure graph helpers over `id -> needs[]`. Order is stable: among nodes that are ready
 * at the same time, file order wins, so displays and runs are deterministic.
 */
export type Needs = ReadonlyMap<string, readonly string[]>

/** Topological order, or the first cycle found as a path that returns to its start. */
export function topoOrder(needs: Needs): { order: string[] } | { cycle: string[] } {
  const ids = [...needs.keys()]
  const state = new Map<string, 'visiting' | 'done'>()
  const order: string[] = []
  const stack: string[] = []
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id)
    if (s === 'done') return undefined
    if (s === 'visiting') return [...stack.slice(stack.indexOf(id)), id]
    state.set(id, 'visiting')
    stack.push(id)
    for (const dep of needs.get(id) ?? []) {
      if (!needs.has(dep)) continue
      const cycle = visit(dep)
      if (cycle) return cycle
    }
    stack.pop()
    state.set(id, 'done')
    order.push(id)
    return undefined
  }
  for (const id of ids) {
    const cycle = visit(id)
    if (cycle) return { cycle }
  }
  return { order }
}

/** Every node that (transitively) needs one of `roots`, roots included. */
export function descendantsOf(needs: Needs, roots: Iterable<string>): Set<string> {
  const out = new Set(roots)
  let grew = true
  while (grew) {
    grew = false
    for (const [id, deps] of needs) {
      if (!out.has(id) && deps.some((d) => out.has(d))) {
        out.add(id)
        grew = true
      }
    }
  }
  return out
}

/** Every node that `roots` (transitively) need, roots excluded. */
export function ancestorsOf(needs: Needs, roots: Iterable<string>): Set<string> {
  const out = new Set<string>()
  const todo = [...roots]
  while (todo.length) {
    for (const d of needs.get(todo.pop()!) ?? []) {
      if (!out.has(d)) {
        out.add(d)
        todo.push(d)
      }
    }
  }
  return out
}

/** Mermaid flowchart of the graph, for --graph. */
export function toMermaid(needs: Needs, labels: ReadonlyMap<string, string>, finallyIds: readonly string[] = []): string {
  const safe = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_')
  const lines = ['flowchart TD']
  for (const id of needs.keys()) lines.push(`  ${safe(id)}["${id}<br/><small>${(labels.get(id) ?? '').replace(/"/g, "'")}</small>"]`)
  for (const [id, deps] of needs) for (const d of deps) lines.push(`  ${safe(d)} --> ${safe(id)}`)
  if (finallyIds.length) {
    lines.push('  subgraph finally')
    for (const id of finallyIds) lines.push(`    ${safe(id)}["${id}"]`)
    lines.push('  end')
  }
  return lines.join('\n') + '\n'
}

/**
 * The DAG as a plain-text tree, for a terminal (`--graph=tree`): each node under the first
 * node it needs; a node with several needs is drawn once, and named again elsewhere as
 * "→ id (above)", with what else it waits for.
 */
export function toTree(needs: Needs, labels: ReadonlyMap<string, string>, finallyIds: readonly string[] = []): string {
  const children = new Map<string, string[]>()
  for (const [id, deps] of needs) for (const d of deps) children.set(d, [...(children.get(d) ?? []), id])
  const lines: string[] = []
  const drawn = new Set<string>()
  const draw = (id: string, lead: string, last: boolean, root: boolean) => {
    const branch = root ? '' : last ? '└─ ' : '├─ '
    const deps = needs.get(id) ?? []
    const more = deps.length > 1 ? `  (after ${deps.join(', ')})` : ''
    if (drawn.has(id)) return void lines.push(`${lead}${branch}→ ${id} (above)`)
    drawn.add(id)
    lines.push(`${lead}${branch}${id}  ${labels.get(id) ?? ''}${more}`.trimEnd())
    const kids = children.get(id) ?? []
    const next = lead + (root ? '' : last ? '   ' : '│  ')
    kids.forEach((k, i) => draw(k, next, i === kids.length - 1, false))
  }
  for (const [id, deps] of needs) if (deps.length === 0) draw(id, '', true, true)
  if (finallyIds.length) lines.push('', `finally (always, after the rest): ${finallyIds.join(', ')}`)
  return lines.join('\n') + '\n'
}
