import type { ZodType } from 'zod'
import type { Health } from './health.ts'

/**
 * The contract every workflow step implements. A step is a small reconciler:
 * `check` observes (read-only), `plan` states the difference (read-only), `apply`
 * closes it (idempotent). Outputs are JSON and never contain secret material: use
 * fingerprints. Steps know nothing about the graph they sit in.
 */
export interface StepDefinition<In = any, Out extends Outputs = Outputs> {
  /** One line, shown by --help, --graph and the TTY view. */
  description: string
  /** Validates the node's resolved `with` inputs before anything runs. */
  inputs: ZodType<In>
  /** Read-only: is the world already as wanted? If so, return the outputs. */
  check(ctx: StepContext<In>): Promise<CheckResult<Out>>
  /** Read-only: the concrete changes `apply` would make, plus predicted outputs for a dry run. */
  plan(ctx: StepContext<In>): Promise<Plan<Out>>
  /** Idempotent: make the changes. May assume `check` said not done, must not rely on it. */
  apply(ctx: StepContext<In>): Promise<Out>
  /** Optional read-only confirmation after `apply`; throwing fails the attempt. */
  verify?(ctx: StepContext<In>, outputs: Out): Promise<void>
  /**
   * Read-only look at the world when some inputs are not known yet: in a dry run or --status,
   * an upstream node has not produced the outputs this node's `with` refers to. Gets the inputs
   * that could be resolved (the others are undefined; not validated by `inputs`). Returns what it
   * observes and the changes it can already state (e.g. server-side dry runs that surface RBAC
   * and admission problems before anything changes).
   */
  probe?(ctx: StepContext<Partial<In>>): Promise<{ observed?: string; changes?: Change[] }>
  /**
   * Read-only, before the first node of a run or dry run runs: judge the inputs known then
   * (params and items; upstream outputs are undefined) against each other, the other
   * instances of this node (`peers`, this one included) and the world it will touch. Each
   * problem refuses the run (exit 2, nothing changed); `checked` lines say what passed. A
   * throw that is retryable (cannot reach the cluster) means "could not check" (exit 1).
   */
  preflight?(ctx: StepContext<Partial<In>>, peers: ReadonlyArray<Partial<In>>): Promise<PreflightResult>
  /**
   * Never reuse a previous success: a read-only verification step that must look at the
   * world every run. Its `check` still runs (for --status) but is not trusted as cached.
   */
  alwaysRun?: boolean
  /** What an operator must do by hand when this interactive step cannot run here. */
  runbook?(ctx: StepContext<In>): string
}

export interface PreflightResult {
  checked?: string[]
  problems?: Array<{ message: string; hint?: string }>
}

export type Outputs = Record<string, Json>
export type Json = string | number | boolean | null | Json[] | { [k: string]: Json }

/** `health`: what the check says about the credential itself; --status shows it first and exits by it. */
export type CheckResult<Out> =
  | { done: true; outputs: Out; observed: string; health?: Health }
  | { done: false; reason: string; observed?: string; health?: Health }

export interface Change {
  /** kubectl-like verb: create, update, replace, delete, patch, restart, write, run, wait, verify, consent. */
  verb: string
  /** The object, e.g. `Secret basketball-api/gmail-oauth-token`. */
  target: string
  /** Fingerprints, sizes, keys: never content. */
  detail?: string
  /**
   * Where the change is made, for the confirmation and the summary: e.g. `context prod@pal-e
   * (server https://10.0.0.1:6443, user deployer)`. The plan's summary line names it.
   */
  context?: string
}

export interface Plan<Out> {
  changes: Change[]
  /** Outputs the step expects to produce, so a dry run can plan its descendants. */
  outputs?: Out
}

export interface StepContext<In> {
  /** Instance id, e.g. `update-secret[basketball-api]`. */
  readonly node: string
  readonly inputs: In
  /** Aborted on timeout, SIGINT/SIGTERM: pass it to every child process and HTTP call. */
  readonly signal: AbortSignal
  readonly dryRun: boolean
  /** A terminal is attached and --non-interactive was not given. */
  readonly interactive: boolean
  /** A private 0700 directory for this run (backups). Undefined in a dry run. */
  readonly runDir: string | undefined
  /**
   * Where this workflow's runs are kept (`<state-dir>/<workflow>/runs`, one directory per run
   * id), whatever --state-dir says; may not exist yet. Read-only: e.g. a dry run or --status
   * looking for another run's backup.
   */
  readonly runsDir: string
  /** When this run (or the run it resumes) started, ISO 8601. */
  readonly runStartedAt: string
  /** Outputs this node recorded in the run being resumed, if any. */
  readonly previousOutputs: Outputs | undefined
  /** 1-based attempt number. */
  readonly attempt: number
  /**
   * The command that continues this run with `flags`, for hints: `command('--from', 'verify-scopes')`.
   * It carries a non-default --state-dir and workflows directory, shell-quoted.
   */
  command(...flags: string[]): string
  /** A progress line for the renderers. Never pass secret material. */
  log(line: string): void
  /**
   * Records a change `apply` has just made (same verbs as a plan, fingerprints only): the
   * run's final summary, its transcript and `runs` list what each run changed.
   */
  changed(change: Change): void
  /** Give a child process the terminal (the live view pauses while `fn` runs). */
  withTerminal<T>(fn: () => Promise<T>): Promise<T>
  /** Ask the operator one line on the terminal (interactive runs only). */
  prompt(question: string): Promise<string>
  /** Every instance's status so far: what a `finally` node reports on. */
  statuses(): Record<string, { status: string; reason?: string; error?: string }>
  /**
   * Runs `fn`, which only waits on the world (a watch until a rollout completes), outside the
   * node's --max-parallel slot: other nodes work meanwhile. Not for requests that load the server.
   */
  waiting<T>(fn: () => Promise<T>): Promise<T>
}

export function defineStep<In, Out extends Outputs>(def: StepDefinition<In, Out>): StepDefinition<In, Out> {
  return def
}
