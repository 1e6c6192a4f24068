import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { nextStdinLine, releaseStdin } from '../stdin-lines.ts'
import { parseArgs, UsageError, RUN_ID, type CliArgs } from './args.ts'
import { loadWorkflow, shownPath, WorkflowError, type Workflow } from './load.ts'
import { resolveParams } from './params.ts'
import { generalHelp, workflowHelp, CMD } from './help.ts'
import { EventBus } from './events.ts'
import { StateStore, resolveStateDir, newRunState, newRunId, isUnfinished, type RunState } from './state.ts'
import { acquireLock, LockHeldError, type Lock } from './lock.ts'
import { planResume, describeDrift, type ResumeMode } from './resume.ts'
import { runWorkflow, type TerminalIo, type RunResult } from './scheduler.ts'
import { expandInstances } from './instances.ts'
import { toMermaid } from './graph.ts'
import { statusCommand } from './status-command.ts'
import { plainRenderer } from './render/plain.ts'
import { summaryTable } from './render/summary.ts'
import { jsonSummary, refusalJson, type RefusalStatus } from './render/json.ts'
import type { StepDefinition, Change } from './step.ts'
import { fingerprint } from '../secret-value.ts'
import { NextCommands, shellQuote } from './command.ts'
import { checkNodeInputs } from './inputs-check.ts'
import { hostname } from 'node:os'

export interface MainOptions {
  argv: string[]
  /** Repository root: workflows/ lives here. */
  root: string
  env?: NodeJS.ProcessEnv
  stdout?: NodeJS.WriteStream
  stderr?: NodeJS.WriteStream
}

/** The whole CLI. Returns the exit code; never calls process.exit itself. */
export async function main(opts: MainOptions): Promise<number> {
  const env = opts.env ?? process.env
  const out = opts.stdout ?? process.stdout
  const err = opts.stderr ?? process.stderr
  const say = (s: string) => err.write(s.endsWith('\n') ? s : s + '\n')

  // --json promises one document on stdout, refusals included: decide before parsing can fail.
  let json = jsonWanted(opts.argv, env)
  let workflowName: string | undefined
  const refuse = (r: { status: RefusalStatus; exitCode: number; error: string; hint?: string; text: string; extra?: Record<string, unknown> }): number => {
    say(r.text)
    if (json) out.write(refusalJson({ workflow: workflowName, ...r }))
    return r.exitCode
  }
  const usage = (message: string) =>
    refuse({ status: 'usage-error', exitCode: 2, error: message, hint: `run '${CMD} --help' for usage`, text: `credflow: ${message}\nRun '${CMD} --help' for usage.` })

  let args: CliArgs
  try {
    args = parseArgs(opts.argv, env)
  } catch (e) {
    if (e instanceof UsageError) return usage(e.message)
    throw e
  }
  json = args.json
  workflowName = args.workflow
  const workflowsDir = env.CREDFLOW_WORKFLOWS_DIR ? resolve(env.CREDFLOW_WORKFLOWS_DIR) : join(opts.root, 'workflows')
  if (args.list) {
    if (!existsSync(workflowsDir)) {
      return usage(`no workflows directory at ${workflowsDir}${env.CREDFLOW_WORKFLOWS_DIR ? ` (from CREDFLOW_WORKFLOWS_DIR=${env.CREDFLOW_WORKFLOWS_DIR})` : ''}: point CREDFLOW_WORKFLOWS_DIR at the directory holding the workflow files`)
    }
    out.write(listWorkflows(workflowsDir))
    return 0
  }
  if (!args.workflow) {
    if (args.help) {
      out.write(generalHelp())
      return 0
    }
    return usage('name a workflow (see --list)')
  }

  const file = findWorkflow(workflowsDir, args.workflow)
  if (!file) return usage(`no workflow "${args.workflow}" in ${shownPath(workflowsDir) || '.'} (see ${CMD} --list)`)
  const tasksDir = join(dirname(dirname(file)), 'tasks')
  const invalid = (e: WorkflowError) => {
    const hint = 'fix each problem at the position shown (file:line:col), then run again'
    return refuse({ status: 'invalid', exitCode: 2, error: `invalid workflow:\n${e.message}`, hint, text: `credflow: invalid workflow:\n${e.message}\nhint: ${hint}`, extra: { problems: e.problems } })
  }
  let wf: Workflow
  try {
    wf = loadWorkflow(file, { taskExists: (id) => existsSync(join(tasksDir, `${id}.ts`)) || existsSync(join(tasksDir, `${id}.js`)) })
  } catch (e) {
    if (e instanceof WorkflowError) return invalid(e)
    throw e
  }
  workflowName = wf.name
  if (args.help) {
    out.write(workflowHelp(wf))
    return 0
  }
  // The graph does not depend on params: no need for --set of required ones.
  if (args.graph) {
    out.write(toMermaid(new Map(wf.nodes.filter((n) => !n.isFinally).map((n) => [n.id, n.needs])), new Map(wf.nodes.map((n) => [n.id, n.spec.description ?? n.spec.run])), wf.nodes.filter((n) => n.isFinally).map((n) => n.id)))
    return 0
  }
  const steps = new Map<string, Promise<StepDefinition>>()
  const loadStep = (id: string) => {
    if (!steps.has(id)) {
      const ts = join(tasksDir, `${id}.ts`)
      const path = existsSync(ts) ? ts : join(tasksDir, `${id}.js`)
      steps.set(id, import(pathToFileURL(path).href).then((m) => (m.default ?? m.step) as StepDefinition))
    }
    return steps.get(id)!
  }
  // A run, a dry run and --status import every step anyway: check each node's `with` against
  // its step's inputs now, so a typo fails before anything runs (a step that fails to import
  // is reported by its node at run time).
  const imported = new Map<string, StepDefinition>()
  await Promise.all([...new Set(wf.nodes.map((n) => n.spec.run))].map((id) => loadStep(id).then((s) => void imported.set(id, s), () => {})))
  const inputProblems = checkNodeInputs(wf, imported)
  if (inputProblems.length) return invalid(new WorkflowError(inputProblems))

  const store = new StateStore(resolveStateDir(args.stateDir, env), wf.name)
  const next = new NextCommands({ workflow: wf.name, workflowArg: args.workflow, stateDirFlag: args.stateDir, env, set: args.set, secretParams: new Set(Object.keys(wf.params).filter((k) => wf.params[k].secret)) })
  const mode: ResumeMode = args.only ? { kind: 'only', node: args.only } : args.from ? { kind: 'from', node: args.from } : args.resume ? { kind: 'resume' } : { kind: 'fresh' }
  let previous: RunState | undefined
  if (mode.kind !== 'fresh' && !args.status) {
    const latest = store.latest()
    // Resume continues the newest run only while it is unfinished: a newer success wins over an older failure.
    previous = typeof args.resume === 'string' ? (RUN_ID.test(args.resume) ? store.load(args.resume) : undefined) : mode.kind === 'resume' ? (latest && isUnfinished(latest) ? latest : undefined) : latest
    if (typeof args.resume === 'string' && !previous) {
      const recent = store.list().slice(-5).reverse()
      return usage(`--resume ${args.resume}: not a known run id of ${wf.name} in ${store.workflowDir}; ${recent.length ? `recent runs, newest first: ${recent.join(', ')}` : 'no runs are recorded there'}`)
    }
    if (!previous && mode.kind === 'resume') {
      say(`credflow: nothing to resume: ${latest ? `the latest run ${latest.runId} ${latest.status}` : `no run of ${wf.name} in ${store.workflowDir}`}; starting a new run`)
    }
  }
  // Continuing a run means continuing it with its params: only what is given again may differ.
  const resolved = resolveParams(wf.params, { set: args.set, env, base: previous?.params })
  if ('errors' in resolved) return usage(resolved.errors.join('\n'))
  const params = resolved.values
  const shownParams = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, wf.params[k]?.secret ? fingerprint(JSON.stringify(v)) : v]))

  const instances = expandInstances(wf, params)
  for (const flag of ['from', 'only'] as const) {
    const n = args[flag]
    if (!n || wf.byId.has(n) || instances.some((i) => i.id === n)) continue
    const expanded = instances.filter((i) => i.id !== i.node.id).map((i) => i.id)
    return usage(`--${flag} ${n}: no such node (nodes: ${wf.nodes.map((x) => x.id).join(', ')}${expanded.length ? `; instances: ${expanded.join(', ')}` : ''})`)
  }
  if (!args.status && !previous && (args.only || args.from)) {
    const picked = args.only ?? args.from!
    const node = wf.byId.get(picked) ?? instances.find((i) => i.id === picked)!.node
    const upstream = node.isFinally ? ['every other node'] : node.needs
    if (args.only && upstream.length) {
      return usage(
        `--only ${picked} runs one node with the outputs that ${upstream.join(', ')} stored in an earlier run, and there is no run of ${wf.name} in ${store.workflowDir}.\n` +
          `Run the whole workflow first: ${next.fresh()}  (see its plan first with --dry-run)`,
      )
    }
    if (args.from) say(`credflow: --from ${picked}: no earlier run of ${wf.name} in ${store.workflowDir}, so this is a full run (each node starts with its check: work already done is not redone)`)
  }

  const ctl = new AbortController()
  // A terminal without a size (some CI pseudo-terminals) cannot hold the live view.
  const isTty = Boolean(process.stdin.isTTY && out.isTTY) && (out.columns ?? 0) >= 40 && !isCi(env)
  // Questions go to stderr and answers come from stdin: stdout may be a file (--json > x).
  const interactive = (Boolean(process.stdin.isTTY && err.isTTY) || args.interactive) && !args.nonInteractive

  const tty = isTty && !args.json ? await import('./render/tty.ts').then((m) => new m.TtyView()) : undefined
  const io: TerminalIo = {
    withTerminal: (fn) => (tty ? tty.withTerminal(fn) : fn()),
    // One reader of stdin for the whole run (steps read pastes from it too); a piped or
    // closed stdin answers null instead of leaving a question pending forever.
    prompt: (q, signal) => {
      const ask = async () => {
        err.write(q)
        return nextStdinLine(signal)
      }
      return tty ? tty.withTerminal(ask) : ask()
    },
  }

  const onSignal = (sig: NodeJS.Signals) => {
    if (ctl.signal.aborted) {
      say(`credflow: second ${sig}, exiting now (state is saved after every step)`)
      process.exit(130)
    }
    say(`credflow: ${sig}: stopping running steps, saving state (continue later with --resume)`)
    ctl.abort(new Error(sig))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // A dropped SSH session sends SIGHUP: stop as cleanly as for Ctrl-C, so --resume picks up.
  process.on('SIGHUP', onSignal)
  // A reader that goes away (`| head`, a closed pipe, a hung-up terminal) must not kill a run
  // halfway through its changes: carry on; state.json and events.jsonl still record everything.
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'EIO' && e.code !== 'ERR_STREAM_DESTROYED') throw e
  }
  for (const s of [out, err]) s.on?.('error', onPipeError)
  try {
    if (args.status) return await statusCommand({ wf, params, store, loadStep, io, signal: ctl.signal, json: args.json, out, next })

    let driftNote: string | undefined
    if (previous) {
      const drift = describeDrift(previous, wf, shownParams, (k) => Boolean(wf.params[k]?.secret))
      driftNote = drift.cosmetic
      if (drift.changes.length && !args.force) {
        const error = `refusing to continue run ${previous.runId}: it was recorded with a different setup:\n  ${drift.changes.join('\n  ')}`
        const hint = `pass --force to continue anyway, or start a new run without --resume/--from/--only: ${next.fresh()}`
        return refuse({ status: 'refused', exitCode: 2, error, hint, text: `credflow: ${error}\nhint: ${hint}`, extra: { runId: previous.runId } })
      }
    }

    const bus = new EventBus()
    const plans = new Map<string, Change[]>()
    bus.on((e) => e.type === 'plan' && plans.set(e.id, e.changes))
    if (tty) {
      bus.on(tty.handle)
      bus.on((e) => e.type === 'notice' && say(`credflow: ${e.message}`)) // the live view has no place for them
    }
    else bus.on(plainRenderer((l) => (args.json ? err : out).write(l + '\n')))

    // Read before this run records itself: steps may look at the last run's outputs.
    const history = previous ?? store.latest()
    let lock: Lock | undefined
    let state: RunState | undefined
    if (driftNote) bus.emit({ type: 'notice', message: `${driftNote}: continuing` })
    if (!args.dryRun) {
      store.ensure()
      const runId = previous?.runId ?? newRunId()
      try {
        lock = acquireLock(store.workflowDir, runId)
      } catch (e) {
        if (e instanceof LockHeldError) {
          const hint = lockHint(e)
          return refuse({ status: 'locked', exitCode: 3, error: e.message, hint, text: `credflow: ${e.message}\nlock: ${e.path}\nhint: ${hint}`, extra: { lock: e.path, holder: e.holder ?? null } })
        }
        throw e
      }
      if (lock.tookOver) bus.emit({ type: 'notice', message: lock.tookOver })
      if (previous) {
        state = { ...previous, status: 'running', pid: process.pid, resumes: previous.resumes + 1, finishedAt: undefined, workflowHash: wf.hash, definition: wf.definition, params: shownParams }
      } else {
        state = newRunState({ workflow: wf.name, file: wf.file, workflowHash: wf.hash, definition: wf.definition, params: shownParams })
        state.runId = runId
      }
      store.save(state)
      store.appendEvent(state.runId, { type: 'run-start', mode: mode.kind, resumeOf: previous?.runId, pid: process.pid })
    }

    const result = await runWorkflow({
      workflow: wf,
      params,
      loadStep,
      dryRun: args.dryRun,
      interactive,
      yes: args.yes,
      maxParallel: args.maxParallel,
      signal: ctl.signal,
      bus,
      state,
      store: state ? store : undefined,
      runsDir: join(store.workflowDir, 'runs'),
      resume: planResume(instances, previous, mode),
      previous,
      history,
      io,
      next,
    })
    if (state) {
      state.status = result.status
      state.finishedAt = new Date().toISOString()
      store.save(state)
      store.appendEvent(state.runId, { type: 'run-end', status: result.status, exitCode: result.exitCode })
    }
    lock?.release()
    bus.emit({ type: 'run-end', status: result.status, exitCode: result.exitCode })
    await tty?.done()

    const order = result.instances.map((i) => i.id)
    const table = summaryTable(order, result.nodes, Boolean((args.json ? err : out).isTTY) && !env.NO_COLOR)
    const tail = [
      '',
      table.trimEnd(),
      '',
      args.dryRun
        ? result.exitCode === 0
          ? `dry run: nothing was changed and no state was written. Apply with: ${next.fresh()}`
          : `dry run: nothing was changed and no state was written; a check, plan or probe failed. Fix the cause above, then check again: ${next.fresh('--dry-run')}`
        : state
          ? `${result.status}: run ${state.runId}, state ${shownPath(join(store.runDir(state.runId), 'state.json'))}` +
            (result.status === 'succeeded' ? '' : `\n${nextStep(result, next)}`)
          : '',
    ].join('\n')
    ;(args.json ? err : out).write(tail + '\n')
    if (args.json) {
      out.write(
        jsonSummary({
          workflow: wf.name,
          runId: state?.runId,
          resumeOf: previous?.runId,
          dryRun: args.dryRun,
          params: shownParams,
          stateFile: state ? join(store.runDir(state.runId), 'state.json') : undefined,
          result,
          plans,
        }),
      )
    }
    return result.exitCode
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('SIGHUP', onSignal)
    releaseStdin()
    for (const s of [out, err]) s.off?.('error', onPipeError)
  }
}

function lockHint(e: LockHeldError): string {
  const byHand = `once you are sure no run of it is active, the lock file may be removed by hand: rm ${shellQuote(e.path)}`
  if (!e.holder) return byHand
  if (e.holder.host !== hostname()) return `that run is on another host sharing this state directory; wait for it there. If it died, ${byHand}`
  return `wait for it to finish (a lock whose process is gone is taken over automatically); ${byHand}`
}

/** --json or CREDFLOW_JSON, read leniently: the strict parse may be what fails. */
function jsonWanted(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const flag = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined).filter((a) => a === '--json' || a.startsWith('--json='))
  if (flag.length) return !/^--json=(0|false|no|off)$/i.test(flag[flag.length - 1])
  return /^(1|true|yes|on)$/i.test(env.CREDFLOW_JSON ?? '')
}

/** What to run after a failed run: a step's own hint wins when it names how to rerun. */
function nextStep(result: RunResult, next: NextCommands): string {
  const hints = Object.values(result.nodes).flatMap((n) => (n.error?.hint && /--(from|only|resume)\b/.test(n.error.hint) ? [n.error.hint] : []))
  if (hints.length) return 'next: follow the hint above'
  const resume = next.resume('--resume')
  if (result.status === 'interrupted' || result.status === 'incomplete') return `next: continue with ${resume}`
  if (result.exitCode === 0) return `next: the nodes run now succeeded; the rest of the run needs ${resume}`
  return `next: fix the cause above, then ${resume} (keeps what succeeded)`
}


function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI === 'true' || env.CI === '1'
}

export function findWorkflow(dir: string, name: string): string | undefined {
  if (/\.ya?ml$/.test(name) && existsSync(name)) return resolve(name)
  for (const ext of ['.yaml', '.yml']) {
    const p = join(dir, name + ext)
    if (existsSync(p)) return p
  }
  return undefined
}

function listWorkflows(dir: string): string {
  const rows = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => {
      const text = readFileSync(join(dir, f), 'utf8')
      const desc = /^description:\s*(?:[>|]-?\s*\n\s+)?(.+)$/m.exec(text)?.[1]?.replace(/^["']|["']$/g, '') ?? ''
      return `  ${basename(f).replace(/\.ya?ml$/, '').padEnd(20)} ${desc}`
    })
  return `Workflows in ${shownPath(dir)}:\n${rows.join('\n')}\n\nRun one: ${CMD} <workflow> [--dry-run]\n`
}
