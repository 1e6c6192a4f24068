import { join } from 'node:path'
import { expandInstances } from './instances.ts'
import { inspectLock } from './lock.ts'
import { inspectWorkflowLock } from './cli/workflow-lock.ts'
import { leftoverLines } from './leftovers.ts'
import { observe, formatStatus, lastRunStatus, type GoneRun } from './status.ts'
import { statusHealth } from './health.ts'
import { EXIT } from './exit-codes.ts'
import { terminalWidth } from './render/style.ts'
import type { NextCommands } from './command.ts'
import type { Workflow } from './load.ts'
import type { TerminalIo } from './scheduler.ts'
import type { RunState, StateStore } from './state.ts'
import type { StepDefinition } from './step.ts'

/**
 * `--status`: the last run's outcome (a run whose process is gone shows as interrupted) and
 * every node's check. Exit 0 when every check could look (whatever it saw), 1 when one failed
 * (cluster unreachable, Forbidden...): the picture is incomplete, and a job should notice.
 * A workflow with a credential health check (gmail-reauth) exits by it instead: 4 dead or
 * absent, 5 expiring soon, 1 incomplete, 6 out of sync, 0 healthy.
 */
export async function statusCommand(a: {
  wf: Workflow
  params: Record<string, unknown>
  store: StateStore
  loadStep: (id: string) => Promise<StepDefinition>
  io: TerminalIo
  signal: AbortSignal
  json: boolean
  out: NodeJS.WriteStream
  next: NextCommands
  env: NodeJS.ProcessEnv
}): Promise<number> {
  const last = a.store.latest()
  const gone = last ? goneRun(last, a.store, a.next) : undefined
  const obs = await observe({ instances: expandInstances(a.wf, a.params), params: a.params, loadStep: a.loadStep, last, signal: a.signal, io: a.io, next: a.next, runsDir: join(a.store.workflowDir, 'runs') })
  const lastRun = last ? { runId: last.runId, status: lastRunStatus(last, gone), finishedAt: last.finishedAt ?? null, ...(gone ? { processGone: true, reason: gone.why, next: gone.resume } : {}) } : null
  const complete = obs.every((o) => o.state !== 'error')
  // The workflow's own lock (a Lease): who holds it, and what to do about a stale one.
  const lock = await inspectWorkflowLock({ wf: a.wf, params: a.params, loadStep: a.loadStep, env: a.env, stateDir: a.store.stateDir, signal: a.signal, next: a.next })
  // Copies runs keep on disk (backups may hold an older token): listed until a run removes them.
  const files = leftoverLines(a.store.workflowDir)
  const section = (title: string, lines: string[]) => (lines.length ? `\n${title}:\n${lines.map((l) => `  ${l}`).join('\n')}\n` : '')
  // A workflow whose check says how the credential is exits by it (lib/engine/health.ts).
  const health = statusHealth(obs, a.next.fresh())
  if (a.json) a.out.write(JSON.stringify({ tool: 'credflow', workflow: a.wf.name, complete, ...(health ? { health } : {}), lastRun, nodes: obs, ...(a.wf.lock ? { lock } : {}), keptFiles: files }, null, 2) + '\n')
  else a.out.write(formatStatus(a.wf.name, obs, last, gone, health, terminalWidth(a.out)) + section('lock', lock) + section('kept files', files))
  return health ? health.exitCode : complete ? EXIT.ok : EXIT.failed
}

/** A run recorded as running must hold the workflow's lock; when it does not, its process was killed or crashed. */
function goneRun(last: RunState, store: StateStore, next: NextCommands): GoneRun | undefined {
  if (last.status !== 'running') return undefined
  const lock = inspectLock(store.workflowDir)
  if (lock.kind === 'live' && lock.holder.runId === last.runId) return undefined
  if (lock.kind === 'unreadable') return undefined // cannot tell; the lock's own error shows on the next run
  const why =
    lock.kind === 'stale' && lock.holder?.runId === last.runId
      ? `its lock names pid ${lock.holder.pid} on ${lock.holder.host}, ${lock.why}`
      : `no live process holds its lock (it was run by pid ${last.pid} on ${last.host})`
  return { why, resume: next.resume('--resume', last.runId) }
}
