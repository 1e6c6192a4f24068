import { parseArgs, UsageError, type CliArgs } from './args.ts'
import { setFileWarnings } from '../safe-open.ts'
import { earlySignals } from './cli/session.ts'
import { cliContext, Refusal, usageRefusal, writeRefusal, type CliContext } from './cli/context.ts'
import { graphCommand } from './commands/graph.ts'
import { helpCommand } from './commands/help.ts'
import { listCommand } from './commands/list.ts'
import { runCommand } from './commands/run.ts'
import { statusCommand } from './commands/status.ts'
import { logCommand, runsCommand } from './commands/runs.ts'
import { versionCommand } from './commands/version.ts'
import { decideColor } from './render/style.ts'
import { stringify as stringifyYaml } from 'yaml'

export interface MainOptions {
  argv: string[]
  /** Repository root: workflows/ lives here. */
  root: string
  env?: NodeJS.ProcessEnv
  stdout?: NodeJS.WriteStream
  stderr?: NodeJS.WriteStream
  /** Set when the engine runs from its pre-built bundle (tasks/run.mjs): where each of the checkout's steps is in it. */
  bundledTask?: (id: string) => string | undefined
  /** The bundle's directory, for --version. */
  engineDir?: string
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
  { name: 'version', when: (a) => a.version, run: versionCommand },
  { name: 'list', when: (a) => a.list, run: listCommand },
  { name: 'runs', when: (a) => a.verb === 'runs', run: runsCommand },
  { name: 'log', when: (a) => a.verb === 'log', run: logCommand },
  { name: 'help', when: (a) => a.help, run: helpCommand },
  { name: 'graph', when: (a) => a.graph, run: graphCommand },
  { name: 'status', when: (a) => a.status, run: statusCommand },
  { name: 'dry-run', when: (a) => a.dryRun, run: runCommand },
  { name: 'run', when: () => true, run: runCommand },
]

/** The whole CLI. Returns the exit code; never calls process.exit itself (a second signal does). */
export async function main(opts: MainOptions): Promise<number> {
  const ctx = cliContext(opts)
  // Files readable by others, or reached through a symlink out of their directory: said once, as read.
  setFileWarnings((line) => ctx.say(`credflow: ${line}`))
  const stopEarly = earlySignals(ctx)
  try {
    const args = parseCli(opts.argv, ctx)
    return await COMMANDS.find((c) => c.when(args))!.run(ctx, args)
  } catch (e) {
    if (e instanceof Refusal) return writeRefusal(ctx, e)
    throw e
  } finally {
    stopEarly()
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
  decideColor({ stream: args.json ? ctx.err : ctx.out, env: ctx.env, noColor: args.noColor })
  if (args.output === 'yaml') ctx.out = asYaml(ctx.out)
  return args
}

/**
 * -o yaml: every document the commands print is one JSON text in one write; it goes out as the
 * same document in YAML (kubectl -o yaml). Anything else passes through.
 */
function asYaml(out: NodeJS.WriteStream): NodeJS.WriteStream {
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
    let doc: unknown
    try {
      doc = text.trimStart().startsWith('{') ? JSON.parse(text) : undefined
    } catch {
      doc = undefined
    }
    return (out.write as (c: string, ...r: unknown[]) => boolean)(doc === undefined ? text : stringifyYaml(doc), ...rest)
  }
  return new Proxy(out, { get: (t, k) => (k === 'write' ? write : Reflect.get(t, k, t)) })
}
