import type { CliArgs } from '../args.ts'
import type { CliContext } from '../cli/context.ts'
import { checkStepInputs, openWorkflow } from '../cli/open-workflow.ts'
import { prepareRun } from '../cli/prepare-run.ts'
import { withSession } from '../cli/session.ts'
import { statusCommand as statusReport } from '../status-command.ts'

/** --status: read-only; every node's check and the last run's outcome (status-command.ts). */
export async function statusCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  const open = openWorkflow(ctx, args)
  await checkStepInputs(open)
  const { wf, params, store, loadStep, next } = prepareRun(ctx, args, open)
  return withSession(ctx, args, ({ io, signal }) => statusReport({ wf, params, store, loadStep, io, signal, json: args.json, out: ctx.out, next, env: ctx.env }))
}
