import { resolve } from 'node:path'
import { CMD } from './help.ts'
import { resolveStateDir } from './state.ts'

/** Quotes one word for a POSIX shell: as is when plainly safe, else in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/**
 * The commands this tool tells the operator to run next. They must work when pasted into a
 * fresh shell: they carry a non-default state directory, a workflows directory taken from the
 * environment and, for a new run, the params given with --set (continuing a run reuses the
 * params it recorded, so those commands leave them out).
 */
export class NextCommands {
  readonly #prefix: string
  readonly #sets: string[]
  /** Secret params given with --set: never printed; the operator must give them again. */
  readonly secretSets: string[]

  constructor(a: {
    workflow: string
    /** The workflow as the operator named it: a name, or a path to a YAML file. */
    workflowArg: string
    stateDirFlag: string | undefined
    env: NodeJS.ProcessEnv
    set: Array<[string, string]>
    secretParams: ReadonlySet<string>
  }) {
    const words: string[] = []
    if (a.env.CREDFLOW_WORKFLOWS_DIR) words.push(`CREDFLOW_WORKFLOWS_DIR=${shellQuote(resolve(a.env.CREDFLOW_WORKFLOWS_DIR))}`)
    words.push(CMD, /\.ya?ml$/.test(a.workflowArg) ? shellQuote(resolve(a.workflowArg)) : a.workflow)
    const stateDir = resolve(resolveStateDir(a.stateDirFlag, a.env))
    const defaultDir = resolve(resolveStateDir(undefined, { XDG_STATE_HOME: a.env.XDG_STATE_HOME }))
    if (stateDir !== defaultDir) words.push('--state-dir', shellQuote(stateDir))
    this.#prefix = words.join(' ')
    // The last --set of a key wins, as in the run itself.
    const last = new Map(a.set)
    this.#sets = [...last].filter(([k]) => !a.secretParams.has(k)).map(([k, v]) => `--set ${shellQuote(`${k}=${v}`)}`)
    this.secretSets = [...last.keys()].filter((k) => a.secretParams.has(k))
  }

  /** Continues the recorded run (--resume, --from, --only): its params are reused. */
  resume(...flags: string[]): string {
    return [this.#prefix, ...flags.map(shellQuote)].join(' ')
  }

  /** A new run with the same explicit params, e.g. applying after a dry run. */
  fresh(...flags: string[]): string {
    const cmd = [this.#prefix, ...this.#sets, ...flags.map(shellQuote)].join(' ')
    return this.secretSets.length ? `${cmd}   (and give the secret ${this.secretSets.map((k) => `--set ${k}=...`).join(' ')} again)` : cmd
  }
}
