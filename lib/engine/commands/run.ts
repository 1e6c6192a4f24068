import { EXIT } from '../exit-codes.ts'
import type { RunState } from '../state.ts'
import { join } from 'node:path'
import type { CliArgs } from '../args.ts'
import { Refusal, type CliContext } from '../cli/context.ts'
import { checkStepInputs, openWorkflow } from '../cli/open-workflow.ts'
import { prepareRun, type RunSetup } from '../cli/prepare-run.ts'
import { finishRecord, startRecord, type RunRecord } from '../cli/run-record.ts'
import { inspectWorkflowLock } from '../cli/workflow-lock.ts'
import { withSession, type Session } from '../cli/session.ts'
import { EventBus } from '../events.ts'
import { shownPath } from '../load.ts'
import { jsonSummary } from '../render/json.ts'
import { plainRenderer } from '../render/plain.ts'
import { finalSummary } from '../render/final.ts'
import { stripStyle, terminalWidth } from '../render/style.ts'
import { appendFileSync } from 'node:fs'
import { describeDrift, planResume } from '../resume.ts'
import { runWorkflow } from '../scheduler.ts'
import type { Change } from '../step.ts'

/** A run, or with --dry-run a server-side dry run (nothing written, no state, no lock). */
export async function runCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  const open = openWorkflow(ctx, args)
  await checkStepInputs(open)
  const setup = prepareRun(ctx, args, open)
  return withSession(ctx, args, (session) => run(ctx, args, setup, session))
}

async function run(ctx: CliContext, args: CliArgs, s: RunSetup, session: Session): Promise<number> {
  const { store, previous } = s
  const driftNote = previous ? refuseDrift(args, s) : undefined
  const { bus, plans } = wireBus(ctx, args, session)
  if (driftNote) bus.emit({ type: 'notice', message: `${driftNote}: continuing` })
  // Read before this run records itself: steps may look at the last run's outputs.
  const history = previous ?? store.latest()
  const record = args.dryRun ? undefined : await startRecord(s, bus, { env: ctx.env, signal: session.signal })
  try {
    return await runAndReport(ctx, args, s, session, bus, plans, record, history)
  } finally {
    await record?.runLock?.release() // also when something threw: the next run should not wait for expiry
  }
}

async function runAndReport(ctx: CliContext, args: CliArgs, s: RunSetup, session: Session, bus: EventBus, plans: Map<string, Change[]>, record: RunRecord | undefined, history: RunState | undefined): Promise<number> {
  const { wf, store, previous, next } = s
  const state = record?.state
  const transcript = state ? startTranscript(s, state.runId, bus) : undefined
  const startedAt = new Date()
  // Losing the Lease mid-run (renewals failed, or another run took it) stops the run like a signal.
  const lost = record?.runLock?.lost
  lost?.addEventListener('abort', () => ctx.say(`credflow: ${(lost.reason as Error).message}; stopping (state is saved: continue later with --resume)`))
  if (args.dryRun) {
    for (const line of await inspectWorkflowLock({ wf, params: s.params, loadStep: s.loadStep, env: ctx.env, stateDir: store.stateDir, signal: session.signal, next })) bus.emit({ type: 'notice', message: `lock: ${line}` })
  }

  const result = await runWorkflow({
    workflow: wf,
    params: s.params,
    loadStep: s.loadStep,
    dryRun: args.dryRun,
    interactive: session.interactive,
    yes: args.yes,
    maxParallel: args.maxParallel,
    signal: lost ? AbortSignal.any([session.signal, lost]) : session.signal,
    bus,
    state,
    store: state ? store : undefined,
    runsDir: join(store.workflowDir, 'runs'),
    resume: planResume(s.instances, previous, s.mode),
    previous,
    history,
    io: session.io,
    next,
  })
  const finishedAt = new Date()
  // A lost Lease: another run may hold the Secret now (exit 3, not 130).
  if (lost?.aborted) result.exitCode = EXIT.locked
  await finishRecord(s, record, result)
  bus.emit({ type: 'run-end', status: result.status, exitCode: result.exitCode })
  await session.tty?.done()

  const progress = args.json ? ctx.err : ctx.out
  const final = (width: number | undefined) =>
    finalSummary({ result, dryRun: args.dryRun, plans, runId: state?.runId, stateFile: state && shownPath(join(store.runDir(state.runId), 'state.json')), transcript: transcript && shownPath(transcript), startedAt, finishedAt, next, width })
  progress.write(final(args.output === 'wide' ? undefined : terminalWidth(progress)))
  if (transcript) appendFileSync(transcript, stripStyle(final(undefined)), { mode: 0o600 })
  if (args.json) {
    ctx.out.write(
      jsonSummary({
        workflow: wf.name,
        runId: state?.runId,
        resumeOf: previous?.runId,
        dryRun: args.dryRun,
        params: s.shownParams,
        stateFile: state ? join(store.runDir(state.runId), 'state.json') : undefined,
        result,
        plans,
      }),
    )
  }
  return result.exitCode
}

/** A run continued with a different workflow file or params is refused unless --force; returns the cosmetic note. */
function refuseDrift(args: CliArgs, s: RunSetup): string | undefined {
  const { previous, wf } = s
  const drift = describeDrift(previous!, wf, s.shownParams, (k) => Boolean(wf.params[k]?.secret))
  if (drift.changes.length && !args.force) {
    const error = `refusing to continue run ${previous!.runId}: it was recorded with a different setup:\n  ${drift.changes.join('\n  ')}`
    const hint = `pass --force to continue anyway, or start a new run without --resume/--from/--only: ${s.next.fresh()}`
    throw new Refusal('refused', EXIT.usage, error, `credflow: ${error}\nhint: ${hint}`, hint, { runId: previous!.runId })
  }
  return drift.cosmetic
}

/** The engine emits, renderers present: the live view or plain lines, and the plans for --json. */
function wireBus(ctx: CliContext, args: CliArgs, { tty }: Session): { bus: EventBus; plans: Map<string, Change[]> } {
  const bus = new EventBus()
  const plans = new Map<string, Change[]>()
  bus.on((e) => e.type === 'plan' && plans.set(e.id, e.changes))
  if (tty) {
    bus.on(tty.handle)
    bus.on((e) => e.type === 'notice' && ctx.say(`credflow: ${e.message}`)) // the live view has no place for them
  } else bus.on(plainRenderer((l) => (args.json ? ctx.err : ctx.out).write(l + '\n')))
  return { bus, plans }
}

/**
 * The run's plain-text record in its run directory, whatever the terminal showed: the lines a
 * pipe gets (fingerprints only, as every event is), then the final summary. A resume appends.
 */
function startTranscript(s: RunSetup, runId: string, bus: EventBus): string {
  const file = join(s.store.ensureRunDir(runId), 'transcript.txt')
  bus.on(plainRenderer((l) => appendFileSync(file, l + '\n', { mode: 0o600 })))
  return file
}
