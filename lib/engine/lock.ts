import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pidAlive } from '../atomic-file.ts'

export interface LockHolder {
  pid: number
  host: string
  startedAt: string
  runId?: string
  /** /proc/sys/kernel/random/boot_id when the lock was taken (Linux): a reboot makes the lock stale. */
  bootId?: string
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22): a reused pid differs. */
  procStart?: string
}

/** The lock cannot be taken: exit code 3. */
export class LockHeldError extends Error {
  readonly path: string
  readonly holder?: LockHolder
  constructor(message: string, path: string, holder?: LockHolder) {
    super(message)
    this.path = path
    this.holder = holder
    this.name = 'LockHeldError'
  }
}

/** The file's text, or undefined when it cannot be read (off Linux for /proc, or gone). */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

let ownBootId: string | undefined | null = null
export function bootId(): string | undefined {
  if (ownBootId === null) ownBootId = readText('/proc/sys/kernel/random/boot_id')?.trim() || undefined
  return ownBootId
}

/** Field 22 of /proc/<pid>/stat, counted after the parenthesised command name (which may hold spaces). */
export function processStartTime(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`)
  if (!stat) return undefined
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}

type LockFile =
  | { kind: 'free' }
  | { kind: 'holder'; holder: LockHolder; text: string }
  /** Readable but not a lock this tool wrote (we write it whole, with link(2)): no run can hold it. */
  | { kind: 'corrupt'; why: string; text: string }
  | { kind: 'unreadable'; why: string }

function readLock(path: string): LockFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? { kind: 'free' } : { kind: 'unreadable', why: `cannot read it (${code ?? (e as Error).message})` }
  }
  let doc: Partial<LockHolder>
  try {
    doc = JSON.parse(text)
  } catch {
    return { kind: 'corrupt', why: text.trim() ? 'it is not valid JSON' : 'it is empty', text }
  }
  if (!doc || typeof doc !== 'object' || !Number.isInteger(doc.pid) || (doc.pid as number) <= 0 || typeof doc.host !== 'string') {
    return { kind: 'corrupt', why: 'it names no pid and host', text }
  }
  return { kind: 'holder', holder: { startedAt: 'an unknown time', ...doc } as LockHolder, text }
}

/** Why a holder on this host is no longer running, or undefined when it is (or cannot be checked). */
export function staleReason(h: Pick<LockHolder, 'host' | 'pid' | 'bootId' | 'procStart'>): string | undefined {
  if (h.host !== hostname()) return undefined // another host's process cannot be checked from here
  if (!pidAlive(h.pid)) return 'which is no longer running'
  const boot = bootId()
  if (h.bootId && boot && h.bootId !== boot) return 'taken before this host rebooted (the pid now belongs to another process)'
  const start = processStartTime(h.pid)
  if (h.procStart && start && h.procStart !== start) return 'whose pid now belongs to another process (its start time differs)'
  return undefined
}

export type LockView =
  | { kind: 'free' }
  | { kind: 'live'; holder: LockHolder }
  | { kind: 'stale'; holder?: LockHolder; why: string }
  | { kind: 'unreadable'; why: string }

/** What the lock of `dir` says now, without touching it (--status). */
export function inspectLock(dir: string): LockView {
  const f = readLock(join(dir, 'lock'))
  if (f.kind === 'free' || f.kind === 'unreadable') return f
  if (f.kind === 'corrupt') return { kind: 'stale', why: f.why }
  const why = staleReason(f.holder)
  return why ? { kind: 'stale', holder: f.holder, why } : { kind: 'live', holder: f.holder }
}

export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on ${h.host}, started ${h.startedAt}${h.runId ? ` (run ${h.runId})` : ''}`
}

export interface Lock {
  release(): void
  /** Set when a stale or corrupt lock was taken over: what to tell the operator. */
  tookOver?: string
}

/**
 * One run per workflow per state directory (the operator's SSH session and a Forgejo runner
 * running as the same user share it). The lock file is created with its content in one step
 * (write a temp file, then link(2), which fails if the lock exists), so a reader never
 * sees an empty lock. A lock is stale when its pid is dead, the host rebooted since, or the
 * pid now belongs to a process that started later (pids are reused); off Linux only the pid
 * is checked.
 */
export function acquireLock(dir: string, runId: string): Lock {
  const path = join(dir, 'lock')
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), runId, bootId: bootId(), procStart: processStartTime(process.pid) }
  let tookOver: string | undefined
  for (let tries = 0; tries < 5; tries++) {
    const tmp = `${path}.${process.pid}.${randomBytes(3).toString('hex')}`
    writeFileSync(tmp, JSON.stringify(me) + '\n', { mode: 0o600 })
    try {
      linkSync(tmp, path)
      rmSync(tmp, { force: true })
      return {
        tookOver,
        release: () => {
          const cur = readLock(path)
          if (cur.kind === 'holder' && cur.holder.pid === me.pid && cur.holder.startedAt === me.startedAt) rmSync(path, { force: true })
        },
      }
    } catch (e) {
      rmSync(tmp, { force: true })
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const f = readLock(path)
    if (f.kind === 'free') continue // released between our link and our read
    if (f.kind === 'unreadable') throw new LockHeldError(`the lock file of this workflow exists but ${f.why}`, path)
    const why = f.kind === 'corrupt' ? f.why : staleReason(f.holder)
    if (!why && f.kind === 'holder') throw new LockHeldError(`another run of this workflow is in progress: ${describeHolder(f.holder)}`, path, f.holder)
    // Move the stale lock aside atomically: of two runs taking over at once, one rename wins.
    const aside = `${path}.stale.${process.pid}.${randomBytes(3).toString('hex')}`
    try {
      renameSync(path, aside)
    } catch {
      continue // someone else moved it first; try again from the top
    }
    const moved = readText(aside)
    if (moved !== f.text) {
      // We moved a live lock that replaced the stale one after we read it: put it back.
      try {
        linkSync(aside, path)
      } catch {
        /* the path was taken again meanwhile; the next round reads it */
      }
      rmSync(aside, { force: true })
      continue
    }
    rmSync(aside, { force: true })
    tookOver =
      f.kind === 'holder'
        ? `took over a stale lock from pid ${f.holder.pid} (started ${f.holder.startedAt}), ${why}`
        : `replaced a corrupt lock file (${why}; this tool always writes it whole, so no run holds it): ${path}`
  }
  throw new LockHeldError(`could not take the lock: it kept changing under this run (5 tries)`, path)
}
