import { appendFileSync, existsSync, mkdirSync, readdirSync, chmodSync } from 'node:fs'
import { homedir, hostname } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { writeFileAtomic } from '../atomic-file.ts'
import { OpsError } from '../errors.ts'
import { readUserFile, MAX_BYTES } from '../safe-open.ts'
import { stateDirError } from './state-dir.ts'
import type { ErrorInfo, NodeStatus, RunStatus } from './events.ts'
import type { Change, Outputs } from './step.ts'
import type { DefinitionHashes } from './definition.ts'

export const TOOL = 'credflow'

export interface NodeState {
  node: string
  item?: unknown
  status: NodeStatus
  attempts: number
  startedAt?: string
  finishedAt?: string
  durationMs?: number
  /** Why it was skipped, blocked, cached or kept. */
  reason?: string
  outputs?: Outputs
  error?: ErrorInfo
  /** sha256 of the resolved inputs; a resume reruns the node when it changes. */
  inputsHash?: string
  /** What its apply changed (StepContext.changed), fingerprints only: the run's record. */
  changes?: Change[]
}

export interface RunState {
  schema: 1
  tool: typeof TOOL
  workflow: string
  file: string
  workflowHash: string
  /** Per-node and per-param hashes of the workflow (absent in runs recorded before they were kept). */
  definition?: DefinitionHashes
  runId: string
  /**
   * Order of creation in this state directory (1, 2, ...). Runs are listed by it, not by
   * startedAt: that is this host's wall clock, which jumps back when NTP corrects it, and
   * --resume must still find the run that crashed last. Absent in runs recorded before it.
   */
  seq?: number
  status: RunStatus
  params: Record<string, unknown>
  host: string
  pid: number
  startedAt: string
  updatedAt: string
  finishedAt?: string
  /** How many times `--resume`/`--from`/`--only` continued this run. */
  resumes: number
  nodes: Record<string, NodeState>
}

/** --state-dir, then CREDFLOW_STATE_DIR, then $XDG_STATE_HOME/credflow, then ~/.local/state/credflow. */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag
  if (env.CREDFLOW_STATE_DIR) return env.CREDFLOW_STATE_DIR
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(base, TOOL)
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${stamp}-${randomBytes(2).toString('hex')}`
}

function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
}

/** The on-disk home of one workflow's runs: `<stateDir>/<workflow>/{lock,runs/<id>/{state.json,events.jsonl}}`. */
export class StateStore {
  readonly stateDir: string
  readonly workflow: string
  constructor(stateDir: string, workflow: string) {
    this.stateDir = stateDir
    this.workflow = workflow
  }

  get workflowDir(): string {
    return join(this.stateDir, this.workflow)
  }
  runDir(runId: string): string {
    return join(this.workflowDir, 'runs', runId)
  }
  #ensured = new Set<string>()

  /**
   * Creates what is missing, once per process. The state directory itself is made 0700 only
   * when we create it: `--state-dir /srv/ops` must not change the mode of someone's directory.
   * Everything below it is ours and kept private.
   */
  ensure(): void {
    if (this.#ensured.has(this.workflowDir)) return
    this.#fs('create', this.workflowDir, () => {
      if (!existsSync(this.stateDir)) mkdirSync(this.stateDir, { recursive: true, mode: 0o700 })
      ensurePrivateDir(this.workflowDir)
      ensurePrivateDir(join(this.workflowDir, 'runs'))
    })
    this.#ensured.add(this.workflowDir)
  }
  ensureRunDir(runId: string): string {
    const dir = this.runDir(runId)
    if (this.#ensured.has(dir)) return dir
    this.ensure()
    this.#fs('create', dir, () => ensurePrivateDir(dir))
    this.#ensured.add(dir)
    return dir
  }
  save(state: RunState): void {
    state.updatedAt = new Date().toISOString()
    const file = join(this.ensureRunDir(state.runId), 'state.json')
    this.#fs('write', file, () => writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n', 0o600))
  }
  appendEvent(runId: string, event: object): void {
    const file = join(this.ensureRunDir(runId), 'events.jsonl')
    this.#fs('write', file, () => appendFileSync(file, JSON.stringify({ ts: new Date().toISOString(), ...event }) + '\n', { mode: 0o600 }))
  }
  /** A filesystem failure (read-only, full, a file where a directory should be) as an OpsError with the way out. */
  #fs(verb: 'create' | 'write', path: string, fn: () => void): void {
    try {
      fn()
    } catch (e) {
      throw stateDirError(e, verb, path, this.stateDir)
    }
  }
  /**
   * The run's state, or undefined when it has none. A state file that is not valid JSON
   * (truncated by a crash or a full disk) or that a newer credflow wrote throws a
   * StateFileError naming the file and how to move it aside.
   */
  load(runId: string): RunState | undefined {
    const file = join(this.runDir(runId), 'state.json')
    if (!existsSync(file)) return undefined
    return parseState(readUserFile(file, { what: 'state file', maxBytes: MAX_BYTES.state }).bytes.toString('utf8'), file, runId)
  }
  /** Runs whose state could not be read by latest(): said once, as a notice, by the CLI. */
  readonly skipped: string[] = []
  /** Run ids, oldest first: by creation order (seq), then, for runs recorded without one, start time. */
  list(): string[] {
    return this.#ordered().map((r) => r.id)
  }
  /** The seq a run created now gets (call it holding the state directory's lock). */
  nextSeq(): number {
    return Math.max(0, ...this.#ordered().map((r) => r.seq)) + 1
  }
  #ordered(): { id: string; seq: number; at: number }[] {
    const dir = join(this.workflowDir, 'runs')
    if (!existsSync(dir)) return []
    return readdirSync(dir)
      .filter((d) => existsSync(join(dir, d, 'state.json')))
      .map((id) => ({ id, ...orderOf(join(dir, id, 'state.json')) }))
      .sort((a, b) => a.seq - b.seq || a.at - b.at || a.id.localeCompare(b.id)) // ids only have whole seconds
  }
  /** The newest run that passes `filter`; runs whose state cannot be read are skipped (and listed in `skipped`). */
  latest(filter: (s: RunState) => boolean = () => true): RunState | undefined {
    const ids = this.list()
    for (let i = ids.length - 1; i >= 0; i--) {
      let s: RunState | undefined
      try {
        s = this.load(ids[i])
      } catch (e) {
        if (!(e instanceof OpsError)) throw e
        const note = `${e.message}; skipped (${e.hint})`
        if (!this.skipped.includes(note)) this.skipped.push(note)
        continue
      }
      if (s && filter(s)) return s
    }
    return undefined
  }
}

function orderOf(file: string): { seq: number; at: number } {
  try {
    const s = JSON.parse(readUserFile(file, { what: 'state file', maxBytes: MAX_BYTES.state }).bytes.toString('utf8')) as RunState
    return { seq: typeof s.seq === 'number' ? s.seq : 0, at: Date.parse(s.startedAt) || 0 }
  } catch {
    return { seq: 0, at: 0 }
  }
}

/** The schema this version writes and reads. */
export const STATE_SCHEMA = 1

function parseState(text: string, file: string, runId: string): RunState {
  const aside = `mv ${file} ${file}.unreadable`
  let doc: Partial<RunState>
  try {
    doc = JSON.parse(text)
  } catch {
    throw new OpsError(`the state of run ${runId} (${file}) is not valid JSON${text.length ? ` (${text.length} bytes: truncated by a crash or a full disk?)` : ' (empty)'}`, {
      reason: 'StateCorrupt',
      hint: `move it aside (${aside}) and start a new run: each step checks the world first, so work already done is not redone`,
    })
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || (doc.tool !== undefined && doc.tool !== TOOL) || typeof doc.nodes !== 'object' || !doc.nodes) {
    throw new OpsError(`the state of run ${runId} (${file}) is not a credflow run state`, { reason: 'StateCorrupt', hint: `move it aside (${aside}) and start a new run` })
  }
  if (typeof doc.schema !== 'number' || doc.schema > STATE_SCHEMA) {
    throw new OpsError(`run ${runId} was recorded by a newer credflow (state schema ${String(doc.schema)}; this one reads ${STATE_SCHEMA})`, {
      reason: 'StateFromNewerVersion',
      hint: `continue it with the credflow that started it, or start a new run here (without --resume); to hide it from this version: ${aside}`,
    })
  }
  return doc as RunState
}

export function isUnfinished(s: RunState): boolean {
  return s.status !== 'succeeded'
}

export function newRunState(args: { workflow: string; file: string; workflowHash: string; definition: DefinitionHashes; params: Record<string, unknown> }): RunState {
  const now = new Date().toISOString()
  return {
    schema: 1,
    tool: TOOL,
    ...args,
    runId: newRunId(),
    status: 'running',
    host: hostname(),
    pid: process.pid,
    startedAt: now,
    updatedAt: now,
    resumes: 0,
    nodes: {},
  }
}
