import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

export interface LockHolder {
  pid: number
  host: string
  startedAt: string
  runId?: string
}

/** Another live run holds the lock: exit code 3. */
export class LockHeldError extends Error {
  constructor(readonly holder: LockHolder, readonly path: string) {
    super(
      `another run of this workflow is in progress: pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}` +
        (holder.runId ? ` (run ${holder.runId})` : ''),
    )
    this.name = 'LockHeldError'
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false // kill(0) would signal our own process group
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readHolder(path: string): LockHolder {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder
  } catch {
    // Unreadable or vanished: treat as a dead holder on this host.
    return { pid: 0, host: hostname(), startedAt: 'unknown' }
  }
}

export interface Lock {
  release(): void
  /** Set when a stale lock (dead pid on this host) was taken over. */
  tookOver?: LockHolder
}

/**
 * One run per workflow per state directory (the operator's SSH session and a Forgejo runner
 * running as the same user share it). The lock file is created with its content in one step
 * (write a temp file, then link(2), which fails if the lock exists), so a reader never
 * sees an empty lock.
 */
export function acquireLock(dir: string, runId: string): Lock {
  const path = join(dir, 'lock')
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), runId }
  let tookOver: LockHolder | undefined
  for (let tries = 0; tries < 5; tries++) {
    const tmp = `${path}.${process.pid}.${randomBytes(3).toString('hex')}`
    writeFileSync(tmp, JSON.stringify(me) + '\n', { mode: 0o600 })
    try {
      linkSync(tmp, path)
      rmSync(tmp, { force: true })
      return {
        tookOver,
        release: () => {
          try {
            const cur = JSON.parse(readFileSync(path, 'utf8')) as LockHolder
            if (cur.pid === me.pid && cur.startedAt === me.startedAt) rmSync(path, { force: true })
          } catch {
            /* already gone */
          }
        },
      }
    } catch (e) {
      rmSync(tmp, { force: true })
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const holder = readHolder(path)
    if (holder.host === hostname() && !alive(holder.pid)) {
      // Move the stale lock aside atomically: of two runs taking over at once, one rename wins.
      const aside = `${path}.stale.${process.pid}.${randomBytes(3).toString('hex')}`
      try {
        renameSync(path, aside)
      } catch {
        continue // someone else moved it first; try again from the top
      }
      const moved = readHolder(aside)
      if (moved.pid !== holder.pid || moved.startedAt !== holder.startedAt) {
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
      tookOver = holder
      continue
    }
    throw new LockHeldError(holder, path)
  }
  throw new Error(`could not take the lock ${path}`)
}
