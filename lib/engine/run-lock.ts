/**
 * The workflow's own lock, declared in its file (`lock: { run: k8s/lease, with: ... }`) and
 * held for the whole run beside the state directory's lock file: that one keeps two runs on
 * one state directory apart, this one two hosts (an SSH shell and a Forgejo runner) acting on
 * the same world. The engine knows only this contract; the task supplies the mechanism.
 */
import { hostname } from 'node:os'
import type { ZodType } from 'zod'
import { OpsError } from '../errors.ts'
import { resolveValue, type Scope } from './template.ts'
import { bootId, processStartTime } from './lock.ts'
import type { Workflow } from './load.ts'

/** Who is running: written into the lock so a loser can name the holder. */
export interface RunHolder {
  host: string
  pid: number
  runId?: string
  frontDoor: string
  bootId?: string
  procStart?: string
  stateDir?: string
}

export interface RunLockContext<In> {
  readonly inputs: In
  readonly signal: AbortSignal
  readonly holder: RunHolder
  /** A line for the operator (a clock warning, a takeover). */
  notice(message: string): void
  /** The command that continues this run, for hints. */
  command(...flags: string[]): string
}

export interface HeldRunLock {
  /** Aborted when the lock is lost (renewals failed past their deadline, or another run took it): the run stops. */
  readonly lost: AbortSignal
  release(): Promise<void>
}

export interface RunLockDefinition<In = any> {
  description: string
  inputs: ZodType<In>
  /** Take the lock or throw RunLockHeldError. Keeps it alive (renewals) until release. */
  acquire(ctx: RunLockContext<In>): Promise<HeldRunLock>
  /** Read-only: how the lock stands now, one line per lock, and what to do about a stale one. */
  inspect(ctx: RunLockContext<In>): Promise<string[]>
}

export function defineRunLock<In>(def: RunLockDefinition<In>): RunLockDefinition<In> {
  return def
}

/** Another run holds the workflow's lock: exit code 3. */
export class RunLockHeldError extends OpsError {
  readonly holder?: Record<string, unknown>
  constructor(message: string, hint: string, holder?: Record<string, unknown>) {
    super(message, { reason: 'Locked', hint })
    this.holder = holder
    this.name = 'RunLockHeldError'
  }
}

/**
 * Where this run came in: the wrapper script sets CREDFLOW_FRONT_DOOR; Forgejo (and GitHub)
 * Actions set FORGEJO_ACTIONS / GITHUB_ACTIONS; sshd sets SSH_CONNECTION.
 */
export function frontDoor(env: NodeJS.ProcessEnv): string {
  const forgejo = env.FORGEJO_ACTIONS === 'true' || env.GITHUB_ACTIONS === 'true'
  const job = forgejo ? [env.GITHUB_REPOSITORY, env.GITHUB_RUN_NUMBER && `run #${env.GITHUB_RUN_NUMBER}`].filter(Boolean).join(' ') : ''
  const base = forgejo ? `Forgejo${job ? ` (${job})` : ''}` : env.SSH_CONNECTION ? 'ssh shell' : 'terminal'
  const door = env.CREDFLOW_FRONT_DOOR?.trim()
  return door ? (forgejo || door.includes(base) ? door : `${door} from ${base}`) : base
}

export function runHolder(env: NodeJS.ProcessEnv, runId: string | undefined, stateDir: string): RunHolder {
  return {
    // Tests stand for a second host with their own name; nothing else reads it.
    host: env.CREDFLOW_TEST_HOSTNAME || hostname(),
    pid: process.pid,
    runId,
    frontDoor: frontDoor(env),
    bootId: bootId(),
    procStart: processStartTime(process.pid),
    stateDir,
  }
}

/**
 * This process of run `runId`, beyond pid reuse and reboots. A step that records it can tell
 * later whether it is still the process that took the run's lock (a resume is another one).
 */
export function processIdentity(runId: string): string {
  return [runId, process.pid, processStartTime(process.pid) ?? '', bootId() ?? ''].join('/')
}

type Loader = (taskId: string) => Promise<unknown>

/** The workflow's lock task with its inputs resolved (params only) and validated; undefined when it declares none. */
export async function workflowLock(wf: Workflow, params: Record<string, unknown>, load: Loader): Promise<{ def: RunLockDefinition; inputs: unknown; task: string } | undefined> {
  if (!wf.lock) return undefined
  const def = (await load(wf.lock.run)) as RunLockDefinition
  if (!def || typeof def.acquire !== 'function') throw new OpsError(`lock: task ${wf.lock.run} is not a run lock (no acquire)`, { reason: 'InvalidWorkflow' })
  const scope: Scope = { params, outputs: () => undefined, item: undefined }
  const parsed = def.inputs.safeParse(resolveValue(wf.lock.with ?? {}, scope))
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `lock.with.${i.path.join('.')}: ${i.message}`).join('; ')
    throw new OpsError(`invalid inputs for the lock task ${wf.lock.run}: ${msg}`, { reason: 'InvalidInputs', hint: `fix lock.with in ${wf.file} or the --set values` })
  }
  return { def, inputs: parsed.data, task: wf.lock.run }
}
