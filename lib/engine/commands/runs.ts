// `runs <workflow>` and `log <workflow> [RUN_ID]`: the record of past runs, as `kubectl rollout
// history` shows revisions. Read-only: state.json and the transcript of each run directory.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { readUserFile, MAX_BYTES } from '../../safe-open.ts'
import { EXIT } from '../exit-codes.ts'
import type { CliArgs } from '../args.ts'
import { usageRefusal, type CliContext } from '../cli/context.ts'
import { openWorkflow } from '../cli/open-workflow.ts'
import { formatDuration } from '../../duration.ts'
import { CMD } from '../help.ts'
import { shownPath } from '../load.ts'
import { planSummary } from '../render/changes.ts'
import { clock } from '../render/final.ts'
import { clip, terminalWidth } from '../render/style.ts'
import { resolveStateDir, StateStore, type RunState } from '../state.ts'

function storeOf(ctx: CliContext, args: CliArgs): StateStore {
  const { wf } = openWorkflow(ctx, args)
  return new StateStore(resolveStateDir(args.stateDir, ctx.env), wf.name)
}

/** One row a run: id, start (UTC), status, duration, what it changed, where it ran. */
export async function runsCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  const store = storeOf(ctx, args)
  const runs = store.list().reverse().flatMap((id) => store.load(id) ?? [])
  if (args.json) {
    ctx.out.write(JSON.stringify({ tool: 'credflow', workflow: store.workflow, runs: runs.map((r) => ({ runId: r.runId, status: r.status, startedAt: r.startedAt, finishedAt: r.finishedAt ?? null, host: r.host, resumes: r.resumes, changes: changesOf(r), transcript: transcriptOf(store, r) ?? null })) }, null, 2) + '\n')
    return EXIT.ok
  }
  if (!runs.length) {
    ctx.out.write(`no runs of ${store.workflow} recorded in ${shownPath(store.workflowDir)}\n`)
    return EXIT.ok
  }
  const rows = runs.map((r) => [r.runId, clock(new Date(r.startedAt)), r.status, r.finishedAt ? formatDuration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : '-', r.host, planSummary(changesOf(r), { made: true }).replace(/^no changes$/, '-')])
  const head = ['RUN ID', 'STARTED', 'STATUS', 'TOOK', 'HOST', 'CHANGED']
  const w = head.slice(0, 5).map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)))
  const width = (args.output !== 'wide' && terminalWidth(ctx.out)) || Infinity
  const line = (r: string[]) => clip(r.map((cell, c) => (c < 5 ? cell.padEnd(w[c]) : cell)).join('  ').trimEnd(), width)
  ctx.out.write([head, ...rows].map(line).join('\n') + `\n\nOne run in full: ${CMD} log ${store.workflow} RUN_ID (newest: ${runs[0].runId})\n`)
  return EXIT.ok
}

/** The transcript of one run (default: the newest), as it was written while it ran. */
export async function logCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  const store = storeOf(ctx, args)
  const ids = store.list()
  const id = args.runId ?? ids.at(-1)
  if (!id) throw usageRefusal(`no runs of ${store.workflow} recorded in ${store.workflowDir}`)
  const run = store.load(id)
  if (!run) throw usageRefusal(`log ${store.workflow} ${id}: no such run in ${store.workflowDir}; see: ${CMD} runs ${store.workflow}`)
  const file = transcriptOf(store, run)
  if (!file) throw usageRefusal(`run ${id} has no transcript (recorded before transcripts were kept); its events are in ${join(store.runDir(id), 'events.jsonl')}`)
  ctx.out.write(readUserFile(file, { what: 'transcript', maxBytes: MAX_BYTES.state }).bytes.toString('utf8'))
  return EXIT.ok
}

function changesOf(r: RunState) {
  return Object.values(r.nodes).flatMap((n) => n.changes ?? [])
}

function transcriptOf(store: StateStore, r: RunState): string | undefined {
  const f = join(store.runDir(r.runId), 'transcript.txt')
  return existsSync(f) ? f : undefined
}
