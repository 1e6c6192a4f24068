import { createHash } from 'node:crypto'
import type { WorkflowFile } from './schema.ts'

/**
 * Hashes of what a workflow file defines, per node and per param, over the parsed YAML: a
 * change of comments, quoting, key order or layout leaves them as they are. A run records
 * them so that a refused resume can say what changed.
 */
export interface DefinitionHashes {
  nodes: Record<string, string>
  params: Record<string, string>
  /** version, name, description. */
  header: string
}

/** JSON with object keys sorted, so that key order in the YAML does not count. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v ?? null)
}

const hash = (v: unknown) => 'sha256:' + createHash('sha256').update(canonical(v)).digest('hex').slice(0, 16)

export function definitionHashes(wf: WorkflowFile): DefinitionHashes {
  const nodes: Record<string, string> = {}
  for (const [id, spec] of Object.entries(wf.nodes)) nodes[id] = hash({ section: 'nodes', spec })
  for (const [id, spec] of Object.entries(wf.finally ?? {})) nodes[id] = hash({ section: 'finally', spec })
  const params = Object.fromEntries(Object.entries(wf.params ?? {}).map(([k, p]) => [k, hash(p)]))
  return { nodes, params, header: hash({ version: wf.version, name: wf.name, description: wf.description }) }
}

/** What differs between two definitions, in words; empty when they define the same workflow. */
export function describeDefinitionChange(before: DefinitionHashes, after: DefinitionHashes): string[] {
  const out: string[] = []
  const diff = (what: string, a: Record<string, string>, b: Record<string, string>) => {
    const changed = Object.keys(a).filter((k) => k in b && a[k] !== b[k])
    const added = Object.keys(b).filter((k) => !(k in a))
    const removed = Object.keys(a).filter((k) => !(k in b))
    if (changed.length) out.push(`${what} changed: ${changed.join(', ')}`)
    if (added.length) out.push(`${what} added: ${added.join(', ')}`)
    if (removed.length) out.push(`${what} removed: ${removed.join(', ')}`)
  }
  diff('nodes', before.nodes, after.nodes)
  diff('param definitions', before.params, after.params)
  if (before.header !== after.header) out.push('version, name or description changed')
  return out
}
