import { EXIT } from '../exit-codes.ts'
import type { CliArgs } from '../args.ts'
import type { CliContext } from '../cli/context.ts'
import { openWorkflow } from '../cli/open-workflow.ts'
import { generalHelp, workflowHelp } from '../help.ts'

/** --help: every flag; after a workflow name, that workflow's params and nodes. */
export async function helpCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  ctx.out.write(args.workflow ? workflowHelp(openWorkflow(ctx, args).wf) : generalHelp())
  return EXIT.ok
}
