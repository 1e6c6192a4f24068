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
import { stripStyle, terminalWidth, wrap } from '../render/style.ts'
import { appendFileSync } from 'node:fs'
import { describeDrift, planResume, type ResumePlan } from '../resume.ts'
import { preflight, preflightLines, type PreflightReport } from '../preflight.ts'
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
  const resume = planResume(s.instances, previous, s.mode)
  // Every input judged before the first write (and shown in a dry run); a refusal writes nothing.
  if (!(await preflightPassed(ctx, args, s, session, resume))) return EXIT.interrupted
  const { bus, plans } = wireBus(ctx, args, session)
  if (driftNote) bus.emit({ type: 'notice', message: `${driftNote}: continuing` })
  // Read before this run records itself: steps may look at the last run's outputs.
  const history = previous ?? store.latest()
  for (const note of store.skipped) bus.emit({ type: 'notice', message: note })
  const record = args.dryRun ? undefined : await startRecord(s, bus, { env: ctx.env, signal: session.signal })
  try {
    return await runAndReport(ctx, args, s, session, { bus, plans, record, history, resume })
  } finally {
    await record?.runLock?.release() // also when something threw: the next run should not wait for expiry
  }
}

interface RunParts {
  bus: EventBus
  plans: Map<string, Change[]>
  record: RunRecord | undefined
  history: RunState | undefined
  resume: ResumePlan
}

async function runAndReport(ctx: CliContext, args: CliArgs, s: RunSetup, session: Session, { bus, plans, record, history, resume }: RunParts): Promise<number> {
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
    resume,
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

/**
 * Runs the preflight (lib/engine/preflight.ts), printing what it checked as it goes. Throws the
 * refusal when it found problems (exit 2) or could not look (exit 1); false when interrupted.
 */
async function preflightPassed(ctx: CliContext, args: CliArgs, s: RunSetup, session: Session, resume: ResumePlan): Promise<boolean> {
  const stream = args.json ? ctx.err : ctx.out
  // On a terminal each line fits its width (-o wide keeps them whole), as every other screen does.
  const width = args.output === 'wide' ? undefined : terminalWidth(stream)
  const progress = (l: string) => stream.write((width ? wrap(l, width).join('\n') : l) + '\n')
  let report: PreflightReport
  try {
    report = await preflight({
      workflow: s.wf,
      params: s.params,
      instances: s.instances,
      skip: new Set(resume.untouched.keys()),
      loadStep: s.loadStep,
      signal: session.signal,
      dryRun: args.dryRun,
      interactive: session.interactive,
      runsDir: join(s.store.workflowDir, 'runs'),
      command: (...f) => s.next.resume(...f),
      onLine: (id, l) => progress(`[${id}] preflight: ${l}`),
    })
  } catch (e) {
    if (!session.signal.aborted) throw e
    ctx.say('credflow: interrupted during the preflight: nothing was changed and no run was recorded')
    return false
  }
  for (const l of preflightLines(report)) progress(l)
  const refusal = preflightRefusal(report, args.dryRun, s.next.fresh(...(args.dryRun ? ['--dry-run'] : [])))
  if (refusal) throw refusal
  return true
}

/** A preflight that found problems (exit 2) or could not look (exit 1), as a Refusal; undefined when the run may go on. */
function preflightRefusal(r: PreflightReport, dryRun: boolean, again: string): Refusal | undefined {
  if (!r.problems.length && !r.unchecked.length) return undefined
  // One unreachable server fails every instance the same way: name it once, with all of them.
  const grouped = new Map<string, string[]>()
  for (const p of r.problems.length ? r.problems : r.unchecked) grouped.set(p.message, [...(grouped.get(p.message) ?? []), p.where])
  const bad = [...grouped].map(([message, where]) => `${where.join(', ')}: ${message}`)
  const what = r.problems.length
    ? `refused before any change: ${bad.length} problem(s) with the inputs or the objects the run would touch`
    : `could not check what the run would touch (${bad.length} check(s) could not look); nothing was changed`
  const error = `${dryRun ? 'dry run ' : ''}${what}:\n  ${bad.join('\n  ')}`
  const hint = r.problems.length ? `fix each problem above (its hint says how), then run again: ${again}` : `fix the cause above (the cluster or network), then run again: ${again}`
  const text = `credflow: ${error}\nnothing was changed and no run was recorded.\nhint: ${hint}`
  return new Refusal('refused', r.problems.length ? EXIT.usage : EXIT.failed, error, text, hint, { problems: r.problems, unchecked: r.unchecked })
}

/** A run continued with a different workflow file or params is refused unless --force; returns the cosmetic note. */
function refuseDrift(args: CliArgs, s: RunSetup): string | undefined {
  const { previous, wf } = s
  const drift = describeDrift(previous!, wf, s.shownParams, (k) => Boolean(wf.params[k]?.secret))
  if (drift.changes.length && !args.force) {
    const error = `refusing to continue run ${previous!.runId}: it was recorded with a different setup:\n  ${drift.changes.join('\n  ')}`
    // A value corrected after a failure is the usual reason: give the command that continues with it.
    const hint = `pass --force to continue anyway with these values (${s.next.fresh('--resume', previous!.runId, '--force')}), or start a new run without --resume/--from/--only: ${s.next.fresh()}`
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
