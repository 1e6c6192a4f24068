/**
 * Strict command-line parsing. zx's global argv ignores flag types (`--dry-run gmail-reauth`
 * would swallow the workflow name), so we parse ourselves: an unknown flag or a missing
 * value is a usage error (exit 2). Every flag has a CREDFLOW_* environment fallback.
 */
export interface CliArgs {
  workflow?: string
  help: boolean
  list: boolean
  dryRun: boolean
  resume?: string | true
  from?: string
  only?: string
  set: Array<[string, string]>
  yes: boolean
  nonInteractive: boolean
  interactive: boolean
  json: boolean
  stateDir?: string
  maxParallel: number
  graph: boolean
  /** --graph=tree: plain text; --graph or --graph=mermaid: a Mermaid flowchart. */
  graphFormat: 'mermaid' | 'tree'
  status: boolean
  force: boolean
  noColor: boolean
  version: boolean
  /** -o/--output: json (as --json), yaml (the same document as YAML), wide (lines left whole). */
  output?: 'json' | 'yaml' | 'wide'
  /** -n/--namespace: only the targets (forEach items) in this namespace. */
  namespace?: string
  /** `help [topic]`, `runs [workflow]`, `log <workflow> [RUN_ID]`: the verbs before a workflow name. */
  verb?: 'runs' | 'log'
  helpTopic?: string
  runId?: string
}

import { didYouMean } from './suggest.ts'

export class UsageError extends Error {}

interface FlagSpec {
  name: string
  env: string
  kind: 'bool' | 'string' | 'optional'
  short?: string
  arg?: string
  help: string
}

export const FLAGS: FlagSpec[] = [
  { name: 'dry-run', env: 'CREDFLOW_DRY_RUN', kind: 'bool', help: 'check and plan only: print every change, write nothing; =server and =client as in kubectl (both ask the server), =none for no dry run' },
  { name: 'resume', env: 'CREDFLOW_RESUME', kind: 'optional', arg: 'RUN_ID', help: 'continue a run (default: the latest unfinished one): keep what succeeded, rerun the rest' },
  { name: 'from', env: 'CREDFLOW_FROM', kind: 'string', arg: 'NODE', help: 'like --resume, and also rerun NODE (or one instance, e.g. update-secret[ns]) and everything after it; with no earlier run, a full run' },
  { name: 'only', env: 'CREDFLOW_ONLY', kind: 'string', arg: 'NODE', help: 'run just NODE (or one instance, e.g. update-secret[ns]) with the upstream outputs stored by the last run; needs an earlier run unless NODE has no upstream' },
  { name: 'set', env: 'CREDFLOW_SET_<PARAM>', kind: 'string', arg: 'KEY=VALUE', help: 'set a workflow param (repeatable); env: CREDFLOW_SET_TOKENFILE=... for tokenFile' },
  { name: 'yes', short: 'y', env: 'CREDFLOW_YES', kind: 'bool', help: 'answer yes to confirmations (needed for confirm: nodes without a terminal)' },
  { name: 'non-interactive', env: 'CREDFLOW_NON_INTERACTIVE', kind: 'bool', help: 'never prompt: an interactive node that is not already done fails with its runbook' },
  { name: 'interactive', env: 'CREDFLOW_INTERACTIVE', kind: 'bool', help: 'let interactive nodes read the operator from stdin even without a TTY (scripted consent)' },
  { name: 'json', env: 'CREDFLOW_JSON', kind: 'bool', help: 'print one JSON summary on stdout (progress goes to stderr)' },
  { name: 'state-dir', env: 'CREDFLOW_STATE_DIR', kind: 'string', arg: 'DIR', help: 'where runs are recorded (default $XDG_STATE_HOME/credflow or ~/.local/state/credflow)' },
  { name: 'max-parallel', env: 'CREDFLOW_MAX_PARALLEL', kind: 'string', arg: 'K', help: 'at most K nodes working at once; one waiting for a rollout does not count (1 to 64, default 4)' },
  { name: 'request-timeout', env: 'CREDFLOW_REQUEST_TIMEOUT', kind: 'string', arg: 'D', help: "limit for each request a step makes (API servers, token endpoints), connect included, like kubectl's; sets the workflow's requestTimeout param" },
  { name: 'graph', env: 'CREDFLOW_GRAPH', kind: 'bool', help: 'print the DAG and exit: a Mermaid flowchart, or --graph=tree for a plain-text tree' },
  { name: 'status', env: 'CREDFLOW_STATUS', kind: 'bool', help: "read-only: run every node's check and show what it observes, with the last run's outcome" },
  { name: 'force', env: 'CREDFLOW_FORCE', kind: 'bool', help: 'resume even though the workflow file or params changed since the run' },
  { name: 'namespace', short: 'n', env: 'CREDFLOW_NAMESPACE', kind: 'string', arg: 'NS', help: 'only the targets in namespace NS (the forEach items whose namespace is NS)' },
  { name: 'context', env: 'CREDFLOW_SET_CONTEXT', kind: 'string', arg: 'NAME', help: 'the kubeconfig context to use (same as --set context=NAME)' },
  { name: 'kubeconfig', env: 'CREDFLOW_SET_KUBECONFIG', kind: 'string', arg: 'PATH', help: 'the kubeconfig file (same as --set kubeconfig=PATH; default $KUBECONFIG, merged like kubectl)' },
  { name: 'output', short: 'o', env: 'CREDFLOW_OUTPUT', kind: 'string', arg: 'FORMAT', help: 'json (as --json), yaml, or wide (lines left whole)' },
  { name: 'version', env: '', kind: 'bool', help: 'print the version and exit' },
  { name: 'no-color', env: '', kind: 'bool', help: 'no colour (so does NO_COLOR set to anything, or TERM=dumb)' },
  { name: 'allow-older-grant', env: 'CREDFLOW_ALLOW_OLDER_GRANT', kind: 'bool', help: 'let an older grant (an earlier consent) replace a newer one in the cluster; same as --set allowOlderGrant=true' },
  { name: 'list', env: 'CREDFLOW_LIST', kind: 'bool', help: 'list the workflows (in workflows/, or CREDFLOW_WORKFLOWS_DIR)' },
  { name: 'help', short: 'h', env: '', kind: 'bool', help: 'show help (after a workflow name: its params and nodes)' },
]

/** Modes that exclude other flags, with why; checked in order, so each pair is named once. */
const CONFLICTS: Array<[string, string, string[]]> = [
  ['list', '--list only lists the workflows', ['status', 'graph', 'dry-run', 'resume', 'from', 'only']],
  ['status', '--status only reads (every check, no run)', ['graph', 'dry-run', 'resume', 'from', 'only', 'force']],
  ['graph', '--graph only prints the DAG', ['dry-run', 'resume', 'from', 'only', 'force']],
  ['interactive', 'choose one', ['non-interactive']],
  ['from', '--from reruns NODE and everything after it, --only just NODE', ['only']],
]

function camel(name: string): keyof CliArgs {
  return name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof CliArgs
}

/** More parallel nodes than this only queue on the API server: a larger K is a typo. */
const MAX_PARALLEL = 64

export const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/

function envBool(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)?$/i.test(value)) return false
  throw new UsageError(`${name}=${value}: expected 1/true/yes or 0/false/no`)
}

/** --resume's value when it is not a run id: a boolean, or a clear error that a run id works too. */
function optionalBool(name: string, value: string): boolean {
  try {
    return envBool(name, value)
  } catch {
    throw new UsageError(`${name}=${value}: expected a run id (like 20261125T014000Z-ab12), or 1/true/yes or 0/false/no`)
  }
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  const seen = new Map<string, string | true>()
  const set: Array<[string, string]> = []
  const positionals: string[] = []
  let graphFormat: CliArgs['graphFormat'] = 'mermaid'
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const rawName = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : a.slice(1)
    const spec = FLAGS.find((f) => (a.startsWith('--') ? f.name === rawName : f.short === rawName))
    if (!spec) {
      const known = FLAGS.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])])
      const given = a.startsWith('--') ? '--' + rawName : a
      throw new UsageError(`unknown flag ${given}${didYouMean(given, known.filter((k) => k.startsWith('--') === given.startsWith('--')))}`)
    }
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined
    let value: string | true
    if (spec.kind === 'bool') {
      // kubectl's --dry-run=server|client|none: every dry run here asks the server (dryRun=All); none is no dry run.
      if (spec.name === 'dry-run' && inline !== undefined && /^(server|client|none)$/.test(inline)) value = inline === 'none' ? 'false' : true
      else if (spec.name === 'dry-run' && inline !== undefined && !/^(1|true|yes|on|0|false|no|off)?$/i.test(inline))
        throw new UsageError(`--dry-run=${inline}: expected server, client or none (as in kubectl; server and client are both server-side dry runs here), or true/false`)
      else if (spec.name === 'graph' && inline !== undefined && /^(mermaid|tree)$/.test(inline)) (value = true), (graphFormat = inline as 'mermaid' | 'tree')
      else if (inline !== undefined) value = envBool(`--${spec.name}`, inline) ? true : 'false'
      else value = true
    } else if (spec.kind === 'optional') {
      // --resume=<run id>, or --resume=true/false like any boolean flag
      // Workflow names start with a letter, run ids with a digit: `--resume 2020` is a (bad) run id.
      if (inline !== undefined) value = RUN_ID.test(inline) ? inline : optionalBool(`--${spec.name}`, inline) ? true : 'false'
      else if (argv[i + 1] && /^\d/.test(argv[i + 1])) value = argv[++i]
      else value = true
    } else {
      if (inline !== undefined) value = inline
      else {
        const next = argv[i + 1]
        if (next === undefined || next.startsWith('-')) throw new UsageError(`--${spec.name} needs a value (${spec.arg})`)
        value = argv[++i]
      }
      if (value === '') throw new UsageError(`--${spec.name} needs a value (${spec.arg})`)
    }
    if (spec.name === 'set') {
      const s = value as string
      const k = s.indexOf('=')
      if (k <= 0) throw new UsageError(`--set ${s}: expected KEY=VALUE`)
      set.push([s.slice(0, k), s.slice(k + 1)])
    } else seen.set(spec.name, value)
  }
  // Verbs, as kubectl and gh have them: `help [topic]`, `runs [workflow]`, `log <workflow> [run id]`.
  const verb = positionals[0]
  if (verb === 'help') positionals.shift(), seen.set('help', true)
  const helpTopic = verb === 'help' ? positionals.shift() : undefined
  const listVerb = verb === 'runs' || verb === 'log' ? (positionals.shift() as 'runs' | 'log') : undefined
  const runId = listVerb === 'log' && positionals[1] ? positionals.pop() : undefined
  if (runId && !RUN_ID.test(runId)) throw new UsageError(`log ${positionals[0]} ${runId}: not a run id (like 20261125T014000Z-ab12); see: runs ${positionals[0]}`)
  if (positionals.length > 1) throw new UsageError(`expected one workflow name, got: ${positionals.join(' ')}`)

  const get = (name: string): string | true | undefined => {
    if (seen.has(name)) return seen.get(name)
    const spec = FLAGS.find((f) => f.name === name)!
    const v = spec.env ? env[spec.env] : undefined
    if (v === undefined || v === '') return undefined
    if (spec.kind === 'bool') return envBool(spec.env, v) ? true : undefined
    if (spec.kind === 'optional') return /^\d/.test(v) && !/^[01]$/.test(v) ? v : optionalBool(spec.env, v) ? true : undefined
    return v
  }
  const bool = (name: string) => get(name) === true
  const str = (name: string) => {
    const v = get(name)
    return typeof v === 'string' ? v : undefined
  }
  const mp = str('max-parallel') ?? '4'
  if (!/^[1-9]\d*$/.test(mp) || Number(mp) > MAX_PARALLEL) throw new UsageError(`${seen.has('max-parallel') ? `--max-parallel ${mp}` : `CREDFLOW_MAX_PARALLEL=${mp}`}: expected a whole number from 1 to ${MAX_PARALLEL}`)
  // Sugar for the param, as kubectl users type it; an explicit --set requestTimeout=… still wins.
  const rt = str('request-timeout')
  if (rt !== undefined) set.unshift(['requestTimeout', rt])
  const resume = get('resume')
  const output = str('output')
  if (output !== undefined && !/^(json|yaml|wide)$/.test(output)) throw new UsageError(`-o ${output}: expected json, yaml or wide${didYouMean(output, ['json', 'yaml', 'wide'])}`)
  // --context and --kubeconfig are kubectl's names for two params: a --set of them.
  for (const name of ['context', 'kubeconfig']) if (seen.has(name)) set.push([name, seen.get(name) as string])
  // Sugar for the param of that name (a workflow without it says so, as for any unknown --set).
  if (bool('allow-older-grant')) set.push(['allowOlderGrant', 'true'])
  const args: CliArgs = {
    workflow: positionals[0] ?? (env.CREDFLOW_WORKFLOW || undefined),
    help: bool('help'),
    list: bool('list'),
    dryRun: bool('dry-run'),
    resume: resume === 'false' ? undefined : resume,
    from: str('from'),
    only: str('only'),
    set,
    yes: bool('yes'),
    nonInteractive: bool('non-interactive'),
    interactive: bool('interactive'),
    json: bool('json') || output === 'json' || output === 'yaml',
    stateDir: str('state-dir'),
    maxParallel: Number(mp),
    graph: bool('graph'),
    graphFormat,
    status: bool('status'),
    force: bool('force'),
    noColor: bool('no-color'),
    version: bool('version'),
    output: output as CliArgs['output'],
    namespace: str('namespace'),
    verb: listVerb,
    helpTopic,
    runId,
  }
  // Name each side as the operator gave it: a flag, or the environment variable behind it.
  const given = (name: string) => (seen.has(name) ? `--${name}` : `${FLAGS.find((f) => f.name === name)!.env}=${env[FLAGS.find((f) => f.name === name)!.env]}`)
  const active = (name: string) => (name === 'resume' ? args.resume !== undefined : Boolean(args[camel(name)]))
  for (const [mode, why, others] of CONFLICTS) {
    if (!active(mode)) continue
    if (mode === 'list' && positionals.length) throw new UsageError(`--list and a workflow name (${positionals[0]}) cannot be combined: ${why}`)
    const other = others.find(active)
    if (other) throw new UsageError(`${given(mode)} and ${given(other)} cannot be combined: ${why}`)
  }
  return args
}
