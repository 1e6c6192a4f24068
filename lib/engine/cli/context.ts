import { EXIT, type ExitCode } from '../exit-codes.ts'
import { CMD } from '../help.ts'
import { refusalJson, type RefusalStatus } from '../render/json.ts'
import type { WorkflowError } from '../load.ts'

/** What a command writes to, and how it refuses; one per invocation of main(). */
export interface CliContext {
  env: NodeJS.ProcessEnv
  /** Repository root: workflows/ lives here. */
  root: string
  out: NodeJS.WriteStream
  err: NodeJS.WriteStream
  /** One line to stderr. */
  say(line: string): void
  /** --json promises one document on stdout, refusals included. */
  json: boolean
  /** The workflow a refusal names in --json (the argument until the file is loaded, then its name). */
  workflowName?: string
  /** The pre-built step of `tasks/<id>.ts` in this checkout (lib/engine/bundle.ts), when the engine runs from the bundle. */
  bundledTask?: (id: string) => string | undefined
  /** The pre-built engine's directory; undefined when it runs from the TypeScript sources. */
  engineDir?: string
}

/**
 * A refusal before anything changed: thrown by any phase of a command, written once by main()
 * (stderr text, and the --json document when asked for).
 */
export class Refusal extends Error {
  readonly status: RefusalStatus
  readonly exitCode: ExitCode
  readonly error: string
  readonly text: string
  readonly hint?: string
  readonly extra?: Record<string, unknown>
  constructor(status: RefusalStatus, exitCode: ExitCode, error: string, text: string, hint?: string, extra?: Record<string, unknown>) {
    super(error)
    this.status = status
    this.exitCode = exitCode
    this.error = error
    this.text = text
    this.hint = hint
    this.extra = extra
  }
}

export function usageRefusal(message: string): Refusal {
  return new Refusal('usage-error', EXIT.usage, message, `credflow: ${message}\nRun '${CMD} --help' for usage.`, `run '${CMD} --help' for usage`)
}

export function invalidWorkflow(e: WorkflowError): Refusal {
  const hint = 'fix each problem at the position shown (file:line:col), then run again'
  return new Refusal('invalid', EXIT.usage, `invalid workflow:\n${e.message}`, `credflow: invalid workflow:\n${e.message}\nhint: ${hint}`, hint, { problems: e.problems })
}

export function writeRefusal(ctx: CliContext, r: Refusal): number {
  ctx.say(r.text)
  if (ctx.json) ctx.out.write(refusalJson({ workflow: ctx.workflowName, status: r.status, exitCode: r.exitCode, error: r.error, hint: r.hint, extra: r.extra }))
  return r.exitCode
}

export function cliContext(o: { argv: string[]; root: string; env?: NodeJS.ProcessEnv; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream; bundledTask?: (id: string) => string | undefined; engineDir?: string }): CliContext {
  const env = o.env ?? process.env
  const err = o.stderr ?? process.stderr
  return {
    env,
    root: o.root,
    out: o.stdout ?? process.stdout,
    err,
    say: (s) => err.write(s.endsWith('\n') ? s : s + '\n'),
    // Decided before parsing, which may be what fails; parsing then settles it.
    json: jsonWanted(o.argv, env),
    bundledTask: o.bundledTask,
    engineDir: o.engineDir,
  }
}

/** --json or CREDFLOW_JSON, read leniently: the strict parse may be what fails. */
function jsonWanted(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const words = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined)
  if (words.some((a, i) => /^(-o|--output)$/.test(a) && /^(json|yaml)$/.test(words[i + 1] ?? '')) || words.some((a) => /^--output=(json|yaml)$/.test(a))) return true
  const flag = words.filter((a) => a === '--json' || a.startsWith('--json='))
  if (flag.length) return !/^--json=(0|false|no|off)$/i.test(flag[flag.length - 1])
  return /^(1|true|yes|on)$/i.test(env.CREDFLOW_JSON ?? '')
}
