import { EXIT } from '../exit-codes.ts'
import { join } from 'node:path'
import type { CliArgs } from '../args.ts'
import { Refusal, type CliContext } from '../cli/context.ts'
import { checkStepInputs, openWorkflow } from '../cli/open-workflow.ts'
import { prepareRun, type RunSetup } from '../cli/prepare-run.ts'
import { finishRecord, startRecord } from '../cli/run-record.ts'
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
  const { wf, store, previous, next } = s
  const driftNote = previous ? refuseDrift(args, s) : undefined
  const { bus, plans } = wireBus(ctx, args, session)
  // Read before this run records itself: steps may look at the last run's outputs.
  const history = previous ?? store.latest()
  if (driftNote) bus.emit({ type: 'notice', message: `${driftNote}: continuing` })
  const record = args.dryRun ? undefined : startRecord(s, bus)
  const state = record?.state
  const transcript = state ? startTranscript(s, state.runId, bus) : undefined
  const startedAt = new Date()

  const result = await runWorkflow({
    workflow: wf,
    params: s.params,
    loadStep: s.loadStep,
    dryRun: args.dryRun,
    interactive: session.interactive,
    yes: args.yes,
    maxParallel: args.maxParallel,
    signal: session.signal,
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
  finishRecord(s, record, result)
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
