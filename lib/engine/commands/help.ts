import { EXIT } from '../exit-codes.ts'
import type { CliArgs } from '../args.ts'
import { usageRefusal, type CliContext } from '../cli/context.ts'
import { openWorkflow } from '../cli/open-workflow.ts'
import { generalHelp, HELP_TOPICS, topicHelp, workflowHelp } from '../help.ts'
import { didYouMean } from '../suggest.ts'

/** --help: every flag; after a workflow name, that workflow's params and nodes. */
export async function helpCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  if (args.helpTopic) {
    const text = topicHelp(args.helpTopic)
    if (!text) throw usageRefusal(`help ${args.helpTopic}: no such topic (topics: ${HELP_TOPICS.join(', ')})${didYouMean(args.helpTopic, HELP_TOPICS)}`)
    ctx.out.write(text)
    return EXIT.ok
  }
  ctx.out.write(args.workflow ? workflowHelp(openWorkflow(ctx, args).wf) : generalHelp())
  return EXIT.ok
}
