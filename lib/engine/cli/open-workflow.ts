import { existsSync, readdirSync } from 'node:fs'
import { didYouMean } from '../suggest.ts'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { CliArgs } from '../args.ts'
import { CMD } from '../help.ts'
import { checkNodeInputs } from '../inputs-check.ts'
import { loadWorkflow, shownPath, WorkflowError, type Workflow } from '../load.ts'
import type { StepDefinition } from '../step.ts'
import { invalidWorkflow, usageRefusal, type CliContext } from './context.ts'

/** A loaded workflow and the loader of its steps (from `<workflows dir>/../tasks`). */
export interface OpenWorkflow {
  wf: Workflow
  loadStep: (taskId: string) => Promise<StepDefinition>
}

export function workflowsDir(env: NodeJS.ProcessEnv, root: string): string {
  return env.CREDFLOW_WORKFLOWS_DIR ? resolve(env.CREDFLOW_WORKFLOWS_DIR) : join(root, 'workflows')
}

export function findWorkflow(dir: string, name: string): string | undefined {
  if (/\.ya?ml$/.test(name) && existsSync(name)) return resolve(name)
  for (const ext of ['.yaml', '.yml']) {
    const p = join(dir, name + ext)
    if (existsSync(p)) return p
  }
  return undefined
}

/** Find and validate the named workflow file; throws a Refusal when there is none or it is invalid. */
export function openWorkflow(ctx: CliContext, args: CliArgs): OpenWorkflow {
  if (!args.workflow) throw usageRefusal('name a workflow (see --list)')
  const dir = workflowsDir(ctx.env, ctx.root)
  const file = findWorkflow(dir, args.workflow)
  if (!file) {
    const known = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, '')) : []
    throw usageRefusal(`no workflow "${args.workflow}" in ${shownPath(dir) || '.'} (see ${CMD} --list)${didYouMean(args.workflow, known)}`)
  }
  const tasksDir = join(dirname(dirname(file)), 'tasks')
  // From the bundle the engine runs from, the checkout's steps come from it too (one copy of each module).
  const bundled = tasksDir === join(ctx.root, 'tasks') ? ctx.bundledTask : undefined
  const taskFile = (id: string) => {
    const pre = bundled?.(id)
    if (pre) return pre
    const ts = join(tasksDir, `${id}.ts`)
    return existsSync(ts) ? ts : join(tasksDir, `${id}.js`)
  }
  let wf: Workflow
  try {
    wf = loadWorkflow(file, { taskExists: (id) => existsSync(taskFile(id)) })
  } catch (e) {
    if (e instanceof WorkflowError) throw invalidWorkflow(e)
    throw e
  }
  ctx.workflowName = wf.name
  const steps = new Map<string, Promise<StepDefinition>>()
  const loadStep = (id: string) => {
    if (!steps.has(id)) steps.set(id, import(pathToFileURL(taskFile(id)).href).then((m) => (m.default ?? m.step) as StepDefinition))
    return steps.get(id)!
  }
  return { wf, loadStep }
}

/**
 * A run, a dry run and --status import every step anyway: check each node's `with` against its
 * step's inputs now, so a typo fails before anything runs (a step that fails to import is
 * reported by its node at run time).
 */
export async function checkStepInputs({ wf, loadStep }: OpenWorkflow): Promise<void> {
  const imported = new Map<string, StepDefinition>()
  await Promise.all([...new Set(wf.nodes.map((n) => n.spec.run))].map((id) => loadStep(id).then((s) => void imported.set(id, s), () => {})))
  const problems = checkNodeInputs(wf, imported)
  if (problems.length) throw invalidWorkflow(new WorkflowError(problems))
}
