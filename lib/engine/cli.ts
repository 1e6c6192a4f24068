import { parseArgs, UsageError, type CliArgs } from './args.ts'
import { cliContext, Refusal, usageRefusal, writeRefusal, type CliContext } from './cli/context.ts'
import { graphCommand } from './commands/graph.ts'
import { helpCommand } from './commands/help.ts'
import { listCommand } from './commands/list.ts'
import { runCommand } from './commands/run.ts'
import { statusCommand } from './commands/status.ts'

export interface MainOptions {
  argv: string[]
  /** Repository root: workflows/ lives here. */
  root: string
  env?: NodeJS.ProcessEnv
  stdout?: NodeJS.WriteStream
  stderr?: NodeJS.WriteStream
}

/**
 * One command per module (commands/*.ts), each in kubectl's order: complete (find and load
 * the workflow), validate (params, the run to continue, --from/--only) and only then run.
 * Every phase refuses by throwing a Refusal, written here once.
 */
interface Command {
  name: string
  /** The first command whose `when` holds is run; args.ts has already refused conflicting modes. */
  when: (a: CliArgs) => boolean
  run: (ctx: CliContext, a: CliArgs) => Promise<number>
}

export const COMMANDS: readonly Command[] = [
  { name: 'list', when: (a) => a.list, run: listCommand },
  { name: 'help', when: (a) => a.help, run: helpCommand },
  { name: 'graph', when: (a) => a.graph, run: graphCommand },
  { name: 'status', when: (a) => a.status, run: statusCommand },
  { name: 'dry-run', when: (a) => a.dryRun, run: runCommand },
  { name: 'run', when: () => true, run: runCommand },
]

/** The whole CLI. Returns the exit code; never calls process.exit itself (a second signal does). */
export async function main(opts: MainOptions): Promise<number> {
  const ctx = cliContext(opts)
  try {
    const args = parseCli(opts.argv, ctx)
    return await COMMANDS.find((c) => c.when(args))!.run(ctx, args)
  } catch (e) {
    if (e instanceof Refusal) return writeRefusal(ctx, e)
    throw e
  }
}

function parseCli(argv: string[], ctx: CliContext): CliArgs {
  let args: CliArgs
  try {
    args = parseArgs(argv, ctx.env)
  } catch (e) {
    throw e instanceof UsageError ? usageRefusal(e.message) : e
  }
  ctx.json = args.json
  ctx.workflowName = args.workflow
  return args
}
