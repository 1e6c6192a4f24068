import { readUserFile, MAX_BYTES } from '../safe-open.ts'
import { createHash } from 'node:crypto'
import { basename, isAbsolute, relative, resolve } from 'node:path'
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from 'yaml'
import type { ZodType } from 'zod'
import { WorkflowSchema, NodeSchema, ParamSchema, LockSchema, type NodeSpec, type ParamSpec, type LockSpec, type WorkflowFile } from './schema.ts'
import { topoOrder, ancestorsOf } from './graph.ts'
import { referencesOf, conditionExpression, parseExpression, TemplateError } from './template.ts'
import { checkParamValue } from './params.ts'
import { definitionHashes, type DefinitionHashes } from './definition.ts'

export interface WorkflowNode {
  id: string
  spec: NodeSpec
  needs: string[]
  isFinally: boolean
  forEach?: { param: string; key?: string }
}

export interface Workflow {
  file: string
  name: string
  description: string
  /** sha256 of the file's bytes. */
  hash: string
  /** Per node and param, over the parsed file: a resume says which changed, and ignores layout and comments. */
  definition: DefinitionHashes
  params: Record<string, ParamSpec>
  /** Held for the whole run (`lock:`), e.g. a Kubernetes Lease. */
  lock?: LockSpec
  /** Topological order, `finally` nodes last. */
  nodes: WorkflowNode[]
  byId: Map<string, WorkflowNode>
  /** Line and column of the YAML node at `path` (or of the key `key` in it), for problems found later. */
  position(path: (string | number)[], key?: string): { line: number; col: number }
}

export interface Problem {
  file: string
  line: number
  col: number
  path: string
  message: string
}

/** Every problem in a workflow file, each with `file:line:col`. Exit code 2. */
export class WorkflowError extends Error {
  readonly problems: Problem[]
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'))
    this.problems = problems
    this.name = 'WorkflowError'
  }
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path ? p.path + ': ' : ''}${p.message}`
}

export interface LoadOptions {
  /** Whether `tasks/<id>.ts` exists; the loader does not import steps. */
  taskExists: (id: string) => boolean
}

export function loadWorkflow(file: string, opts: LoadOptions): Workflow {
  const shown = shownPath(file)
  let text: string
  try {
    text = readUserFile(file, { what: 'workflow file', maxBytes: MAX_BYTES.workflow }).bytes.toString('utf8')
  } catch (e) {
    throw new WorkflowError([{ file: shown, line: 1, col: 1, path: '', message: `cannot read: ${(e as Error).message}` }])
  }
  return parseWorkflow(text, shown, opts)
}

export function parseWorkflow(text: string, file: string, opts: LoadOptions): Workflow {
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false })
  const problems: Problem[] = []
  const at = (path: (string | number)[], message: string, key?: string) => {
    const { line, col } = lc.linePos(locate(doc, path, key))
    problems.push({ file, line, col, path: path.join('.'), message })
  }
  for (const e of doc.errors) {
    // With prettyErrors off, yaml leaves linePos unset: compute it from the offset.
    const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0])
    problems.push({ file, line: pos.line, col: pos.col, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` })
  }
  if (problems.length) throw new WorkflowError(problems)

  let raw: unknown
  try {
    raw = doc.toJS()
  } catch (e) {
    // e.g. an alias to an anchor that does not exist
    throw new WorkflowError([{ file, line: 1, col: 1, path: '', message: `YAML: ${(e as Error).message}` }])
  }
  const parsed = WorkflowSchema.safeParse(raw)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) at([...path, k], `unknown key "${k}"`, k)
      } else if (issue.code === 'invalid_key') {
        const key = String(path[path.length - 1])
        const what = path[0] === 'params' ? 'param name' : 'node id'
        at(path, `"${key}" is not a valid ${what}: ${issue.issues[0]?.message ?? issue.message}`, key)
      } else at(path, issue.message)
    }
  }
  // Go on with what did parse, so one pass reports the schema errors and every semantic
  // error of the nodes that parsed (an invalid node still counts as existing for `needs`).
  const wf = parsed.success ? parsed.data : salvage(raw)
  const params = wf.params ?? {}
  const declaredParams = Object.keys(recordOf(recordOf(raw).params))
  const declaredNodes = new Set([...Object.keys(recordOf(recordOf(raw).nodes)), ...Object.keys(recordOf(recordOf(raw).finally))])
  // The name keys the lock, the state and every printed command: it must be the file's.
  const stem = basename(file).replace(/\.ya?ml$/, '')
  if (typeof wf.name === 'string' && wf.name !== stem) at(['name'], `"${wf.name}" must match the file name "${stem}" (commands and state use it)`)

  for (const [name, p] of Object.entries(params)) {
    if (p.default !== undefined) {
      const err = checkParamValue(p, p.default)
      if (err) at(['params', name, 'default'], `default ${err}`)
    }
  }

  const all: WorkflowNode[] = []
  for (const [section, map] of [['nodes', wf.nodes], ['finally', wf.finally ?? {}]] as const) {
    for (const [id, spec] of Object.entries(map)) {
      const fe = typeof spec.forEach === 'string' ? { param: spec.forEach } : spec.forEach
      all.push({ id, spec, needs: spec.needs ?? [], isFinally: section === 'finally', forEach: fe })
    }
  }
  const ids = declaredNodes
  const regular = new Set(Object.keys(recordOf(recordOf(raw).nodes)))
  const nodePath = (n: WorkflowNode) => [n.isFinally ? 'finally' : 'nodes', n.id]
  for (const n of all) {
    if (n.isFinally && regular.has(n.id)) at(nodePath(n), `"${n.id}" is defined in both nodes and finally`)
    if (!opts.taskExists(n.spec.run)) at([...nodePath(n), 'run'], `unknown task "${n.spec.run}": no file tasks/${n.spec.run}.ts`)
    n.needs.forEach((d, i) => {
      if (!ids.has(d)) at([...nodePath(n), 'needs', i], `unknown node "${d}"`)
      else if (!n.isFinally && !regular.has(d)) at([...nodePath(n), 'needs', i], `"${d}" is a finally node; only finally nodes may need it`)
      if (d === n.id) at([...nodePath(n), 'needs', i], 'a node cannot need itself')
    })
    if (n.forEach) {
      const p = params[n.forEach.param]
      if (!p) {
        if (!declaredParams.includes(n.forEach.param)) at([...nodePath(n), 'forEach'], `unknown param "${n.forEach.param}"`)
      }
      else if (p.type !== 'list') at([...nodePath(n), 'forEach'], `param "${n.forEach.param}" is a ${p.type}, forEach needs a list`)
    }
  }

  const needs = new Map(all.map((n) => [n.id, n.needs]))
  const topo = topoOrder(needs)
  if ('cycle' in topo) {
    const start = all.find((n) => n.id === topo.cycle[0])!
    at([...nodePath(start), 'needs'], `cycle: ${topo.cycle.join(' -> ')}`)
  }

  for (const n of all) {
    const upstream = ancestorsOf(needs, [n.id])
    const checkRefs = (value: unknown, path: (string | number)[]) => {
      let refs
      try {
        refs = referencesOf(value)
      } catch (e) {
        if (e instanceof TemplateError) return at(path, `bad template: ${e.message}`)
        throw e
      }
      for (const r of refs) {
        if (r.kind === 'param' && !declaredParams.includes(r.name)) at(path, `unknown param "${r.name}" (declared: ${declaredParams.join(', ') || 'none'})`)
        if (r.kind === 'item' && !n.forEach) at(path, '"item" is only defined in a forEach node')
        if (r.kind === 'output') {
          if (!ids.has(r.node)) at(path, `unknown node "${r.node}"`)
          else if (!upstream.has(r.node)) at(path, `uses outputs of "${r.node}", which is not in its needs`)
          else {
            const src = all.find((x) => x.id === r.node)
            if (src?.forEach && src.forEach.param !== n.forEach?.param)
              at(path, `"${r.node}" runs once per ${src.forEach.param}; only a node with the same forEach can use its outputs`)
          }
        }
      }
    }
    for (const [k, v] of Object.entries(n.spec.with ?? {})) checkRefs(v, [...nodePath(n), 'with', k])
    if (n.spec.when !== undefined) {
      try {
        parseExpression(conditionExpression(n.spec.when))
        checkRefs('${{ ' + conditionExpression(n.spec.when) + ' }}', [...nodePath(n), 'when'])
      } catch (e) {
        if (e instanceof TemplateError) at([...nodePath(n), 'when'], `bad expression: ${e.message}`)
        else throw e
      }
    }
  }
  if (wf.lock) {
    if (!opts.taskExists(wf.lock.run)) at(['lock', 'run'], `unknown task "${wf.lock.run}": no file tasks/${wf.lock.run}.ts`)
    for (const [k, v] of Object.entries(wf.lock.with ?? {})) {
      try {
        for (const r of referencesOf(v)) {
          if (r.kind !== 'param') at(['lock', 'with', k], 'the lock is taken before any node runs: only ${{ params.x }} can be used here')
          else if (!declaredParams.includes(r.name)) at(['lock', 'with', k], `unknown param "${r.name}" (declared: ${declaredParams.join(', ') || 'none'})`)
        }
      } catch (e) {
        if (e instanceof TemplateError) at(['lock', 'with', k], `bad template: ${e.message}`)
        else throw e
      }
    }
  }
  if (problems.length || !parsed.success || 'cycle' in topo) throw new WorkflowError(problems)

  // Finally nodes run after every regular node; keep them last in display order.
  const order = topo.order.map((id) => all.find((n) => n.id === id)!)
  const nodes = [...order.filter((n) => !n.isFinally), ...order.filter((n) => n.isFinally)]
  return {
    file,
    name: wf.name,
    description: wf.description,
    hash: 'sha256:' + createHash('sha256').update(text).digest('hex'),
    definition: definitionHashes(wf),
    params,
    lock: wf.lock,
    nodes,
    byId: new Map(nodes.map((n) => [n.id, n])),
    position: (path, key) => lc.linePos(locate(doc, path, key)),
  }
}

/** Relative to the working directory when the file is below it; absolute otherwise (`../../tmp/x` helps nobody). */
export function shownPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : resolve(file)
}

function recordOf(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

/** The parts of an invalid file that do parse: params and nodes one by one (their errors are reported already). */
function salvage(raw: unknown): WorkflowFile {
  const r = recordOf(raw)
  const part = <T>(v: unknown, schema: ZodType<T>): Record<string, T> =>
    Object.fromEntries(Object.entries(recordOf(v)).flatMap(([k, x]) => {
      const p = schema.safeParse(x)
      return p.success ? [[k, p.data]] : []
    }))
  return {
    version: 1,
    name: typeof r.name === 'string' ? r.name : (undefined as unknown as string),
    description: typeof r.description === 'string' ? r.description : '',
    params: part(r.params, ParamSchema),
    nodes: part(r.nodes, NodeSchema),
    finally: part(r.finally, NodeSchema),
    lock: LockSchema.safeParse(r.lock).data,
  }
}

/** Source offset of the node at `path` (or of the key `key` inside it), best effort. */
function locate(doc: Document, path: (string | number)[], key?: string): number {
  if (key !== undefined) {
    const parent = doc.getIn(path.slice(0, -1), true)
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key)
      if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0]
    }
  }
  for (let i = path.length; i >= 0; i--) {
    const node = doc.getIn(path.slice(0, i), true) as { range?: [number, number, number] } | undefined
    if (node?.range) return node.range[0]
  }
  return 0
}
