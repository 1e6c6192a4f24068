import { RUN_ID, type CliArgs } from '../args.ts'
import { NextCommands } from '../command.ts'
import { expandInstances, type Instance } from '../instances.ts'
import { resolveParams } from '../params.ts'
import type { ResumeMode } from '../resume.ts'
import { isUnfinished, resolveStateDir, StateStore, type RunState } from '../state.ts'
import { fingerprint } from '../../secret-value.ts'
import { Refusal, usageRefusal, type CliContext } from './context.ts'
import { didYouMean } from '../suggest.ts'
import { EXIT } from '../exit-codes.ts'
import { isOpsError } from '../../errors.ts'
import { checkStateDir } from '../state-dir.ts'
import type { OpenWorkflow } from './open-workflow.ts'

/** Everything a run, a dry run or --status needs, judged before anything is touched. */
export interface RunSetup extends OpenWorkflow {
  store: StateStore
  next: NextCommands
  mode: ResumeMode
  /** The run being continued (--resume/--from/--only); never set for --status. */
  previous?: RunState
  params: Record<string, unknown>
  /** params with secret values replaced by their fingerprints: what state and --json show. */
  shownParams: Record<string, unknown>
  instances: Instance[]
}

/** Validate: the run to continue, the params, the --from/--only node. Throws a Refusal. */
export function prepareRun(ctx: CliContext, args: CliArgs, open: OpenWorkflow): RunSetup {
  const { wf } = open
  const store = new StateStore(resolveStateDir(args.stateDir, ctx.env), wf.name)
  const next = new NextCommands({ workflow: wf.name, workflowArg: args.workflow!, stateDirFlag: args.stateDir, env: ctx.env, set: args.set, secretParams: new Set(Object.keys(wf.params).filter((k) => wf.params[k].secret)) })
  const mode: ResumeMode = args.only ? { kind: 'only', node: args.only } : args.from ? { kind: 'from', node: args.from } : args.resume ? { kind: 'resume' } : { kind: 'fresh' }
  // The state directory can hold runs (a dry run and --status only read it), and what it holds can be read.
  const previous = stateRefusals(() => {
    checkStateDir(store.workflowDir, { write: !args.dryRun && !args.status })
    return mode.kind !== 'fresh' && !args.status ? runToContinue(ctx, args, store, mode, wf.name) : undefined
  })

  // Continuing a run means continuing it with its params: only what is given again may differ.
  const resolved = resolveParams(wf.params, { set: args.set, env: ctx.env, base: previous?.params })
  if ('errors' in resolved) throw usageRefusal(resolved.errors.join('\n'))
  const params = args.namespace ? inNamespace(wf, resolved.values, args.namespace) : resolved.values
  const shownParams = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, wf.params[k]?.secret ? fingerprint(JSON.stringify(v)) : v]))

  const instances = expandInstances(wf, params)
  for (const flag of ['from', 'only'] as const) {
    const n = args[flag]
    if (!n || wf.byId.has(n) || instances.some((i) => i.id === n)) continue
    const expanded = instances.filter((i) => i.id !== i.node.id).map((i) => i.id)
    throw usageRefusal(`--${flag} ${n}: no such node (nodes: ${wf.nodes.map((x) => x.id).join(', ')}${expanded.length ? `; instances: ${expanded.join(', ')}` : ''})`)
  }
  if (!args.status && !previous && (args.only || args.from)) {
    const picked = args.only ?? args.from!
    const node = wf.byId.get(picked) ?? instances.find((i) => i.id === picked)!.node
    const upstream = node.isFinally ? ['every other node'] : node.needs
    if (args.only && upstream.length) {
      throw usageRefusal(
        `--only ${picked} runs one node with the outputs that ${upstream.join(', ')} stored in an earlier run, and there is no run of ${wf.name} in ${store.workflowDir}.\n` +
          `Run the whole workflow first: ${next.fresh()}  (see its plan first with --dry-run)`,
      )
    }
    if (args.from) ctx.say(`credflow: --from ${picked}: no earlier run of ${wf.name} in ${store.workflowDir}, so this is a full run (each node starts with its check: work already done is not redone)`)
  }
  return { ...open, store, next, mode, previous, params, shownParams, instances }
}

/** A state directory or run state that cannot be used, as a refusal (exit 2) with the way out. */
function stateRefusals<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (!isOpsError(e)) throw e
    throw new Refusal('refused', EXIT.usage, e.message, `credflow: ${e.message}\nhint: ${e.hint}`, e.hint)
  }
}

/** The recorded run that --resume [id], --from or --only continues, if any. */
function runToContinue(ctx: CliContext, args: CliArgs, store: StateStore, mode: ResumeMode, workflow: string): RunState | undefined {
  const latest = store.latest()
  // The run to continue may be the one whose state cannot be read: say so instead of starting afresh.
  if (!latest && store.skipped.length && typeof args.resume !== 'string') {
    const hint = 'move it aside as shown, or start a new run without --resume/--from/--only'
    throw new Refusal('refused', EXIT.usage, store.skipped.join('\n'), `credflow: ${store.skipped.join('\ncredflow: ')}`, hint)
  }
  // Resume continues the newest run only while it is unfinished: a newer success wins over an older failure.
  const previous = typeof args.resume === 'string' ? (RUN_ID.test(args.resume) ? store.load(args.resume) : undefined) : mode.kind === 'resume' ? (latest && isUnfinished(latest) ? latest : undefined) : latest
  if (typeof args.resume === 'string' && !previous) {
    const recent = store.list().slice(-5).reverse()
    throw usageRefusal(`--resume ${args.resume}: not a known run id of ${workflow} in ${store.workflowDir}; ${recent.length ? `recent runs, newest first: ${recent.join(', ')}` : 'no runs are recorded there'}`)
  }
  if (!previous && mode.kind === 'resume') {
    ctx.say(`credflow: nothing to resume: ${latest ? `the latest run ${latest.runId} ${latest.status}` : `no run of ${workflow} in ${store.workflowDir}`}; starting a new run`)
  }
  return previous
}

/**
 * -n/--namespace, as in kubectl: the forEach lists (targets) keep only their items in that
 * namespace, so every per-target node runs for it alone. Refused when nothing is left.
 */
function inNamespace(wf: OpenWorkflow['wf'], params: Record<string, unknown>, ns: string): Record<string, unknown> {
  const lists = [...new Set(wf.nodes.flatMap((n) => (n.forEach ? [n.forEach.param] : [])))]
  const out = { ...params }
  const seen = new Set<string>()
  for (const p of lists) {
    const items = Array.isArray(params[p]) ? (params[p] as unknown[]) : []
    const nsOf = (i: unknown) => (i && typeof i === 'object' && typeof (i as { namespace?: unknown }).namespace === 'string' ? (i as { namespace: string }).namespace : undefined)
    for (const i of items) if (nsOf(i)) seen.add(nsOf(i)!)
    out[p] = items.filter((i) => nsOf(i) === ns)
  }
  if (!seen.size) throw usageRefusal(`-n ${ns}: ${wf.name} has no targets with a namespace (no forEach list of objects with a "namespace" field)`)
  if (!seen.has(ns)) throw usageRefusal(`-n ${ns}: no target of ${wf.name} is in namespace ${ns} (namespaces: ${[...seen].join(', ')})${didYouMean(ns, [...seen])}`)
  return out
}
