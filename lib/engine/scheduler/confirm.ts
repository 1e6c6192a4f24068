// The confirmation, asked once for the whole plan. The first `confirm:` node to get there shows
// every change the run will still make: its own plan, the plans of the other confirm nodes not
// yet settled, and of everything after them (a later node whose inputs are not known yet is
// probed, as a dry run does). One "y" covers them all; the other confirm nodes wait for it.
import { OpsError } from '../../errors.ts'
import type { Instance } from '../instances.ts'
import { resolvePartialInputs, runProbe } from '../probe.ts'
import type { PlannedNode } from '../render/confirm.ts'
import { evaluateCondition, MissingOutputError, resolveValue } from '../template.ts'
import type { StepContext, StepDefinition } from '../step.ts'
import { changeText, planSummary } from '../render/changes.ts'
import { errorInfo } from './errors.ts'
import { scopeOf, stepContext, type RunScope } from './node-run.ts'

/** "n" at the confirmation: not a failure; the node and what follows it stay pending. */
export class Declined extends Error {}

export class ConfirmGate {
  answer?: Promise<boolean>
  /** Nodes left pending by an "n", and those after them. */
  readonly declined = new Set<string>()
}

export async function confirmWholePlan(run: RunScope, inst: Instance, step: StepDefinition, ctx: StepContext<unknown>): Promise<void> {
  const { o, gate } = run
  if (!o.interactive) {
    throw new OpsError(`${inst.id} changes things and needs confirmation, and there is no terminal to ask on: nothing was changed`, {
      reason: 'NeedsConfirmation',
      hint: 'pass --yes (or CREDFLOW_YES=1) to apply without asking, or run it on a terminal',
    })
  }
  gate.answer ??= (async () => {
    const own = await step.plan(ctx)
    for (const c of own.changes) ctx.log(`will ${changeText(c)}`)
    const plan: PlannedNode[] = [{ id: inst.id, changes: own.changes }]
    for (const later of coveredBy(run, inst)) plan.push(await planAhead(run, later))
    const yes = await o.io.confirm(plan, o.signal)
    // The record says what was asked and answered: the transcript and events.jsonl keep it.
    ctx.log(`asked to confirm the plan (${planSummary(plan.flatMap((p) => p.changes))}): ${yes ? 'yes' : 'not confirmed'}`)
    return yes
  })()
  if (!(await gate.answer)) throw new Declined('not confirmed')
}

/** Every instance one "y" allows besides `first`, in run order: other confirm nodes not yet settled, and all that follows them. */
function coveredBy(run: RunScope, first: Instance): Instance[] {
  const { o, instances, ledger } = run
  const open = (i: Instance) => ['pending', 'running'].includes(ledger.get(i.id)?.status ?? 'pending') && !o.resume.untouched.has(i.id)
  const covered = new Set(instances.filter((i) => i.node.spec.confirm && open(i)).map((i) => i.id))
  covered.add(first.id)
  for (let grew = true; grew; ) {
    grew = false
    for (const i of instances) {
      if (!covered.has(i.id) && open(i) && i.needs.some((d) => covered.has(d))) {
        covered.add(i.id)
        grew = true
      }
    }
  }
  return instances.filter((i) => i.id !== first.id && covered.has(i.id))
}

/** A later node's part of the plan, looked at now (read-only): its plan if its inputs are known, else its probe. */
async function planAhead(run: RunScope, inst: Instance): Promise<PlannedNode> {
  const spec = inst.node.spec
  const id = inst.id
  try {
    const step = await run.o.loadStep(spec.run)
    const scope = scopeOf(run, inst)
    const ctxFor = (inputs: unknown) => stepContext(run, inst, inputs, 1, run.o.signal, Date.now())
    let raw: unknown
    try {
      if (spec.when !== undefined && !evaluateCondition(spec.when, scope)) return { id, changes: [], note: `skipped (when: ${spec.when} is false)` }
      raw = resolveValue(spec.with ?? {}, scope)
    } catch (e) {
      if (!(e instanceof MissingOutputError)) throw e
      if (!step.probe) return { id, changes: [{ verb: 'run', target: id, detail: spec.description ?? spec.run }], note: `its inputs are known after ${e.node}` }
      const partial = resolvePartialInputs(spec.with ?? {}, scope)
      return { id, changes: (await runProbe(step, ctxFor(partial.inputs) as StepContext<Record<string, unknown>>)).changes }
    }
    const inputs = step.inputs.parse(raw)
    if (!step.alwaysRun && (await step.check(ctxFor(inputs))).done) return { id, changes: [], note: 'already done' }
    return { id, changes: (await step.plan(ctxFor(inputs))).changes }
  } catch (e) {
    return { id, changes: [], problem: errorInfo(e).message }
  }
}
