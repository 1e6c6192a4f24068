import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync, chmodSync } from 'node:fs'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { crashPoint } from './crash-point.ts'

/**
 * Replace `path` atomically: write a temp file beside it, fsync, rename over the target,
 * fsync the directory. A crash leaves either the old content or the new, never half.
 * Mode defaults to 0600 because everything we write is either secret or private state.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = openSync(tmp, 'wx', mode)
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data
    let off = 0
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw e
  }
  closeSync(fd)
  chmodSync(tmp, mode) // umask may have narrowed or widened the create mode
  crashPoint(`write:${basename(path)}`) // the crash matrix kills here: the whole copy sits in the temp file
  try {
    renameSync(tmp, path)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
  fsyncDir(dir)
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** `writeFileAtomic`'s temp names: `.<target>.<pid>.<8 hex>.tmp`. */
const TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/
/** No atomic write takes this long: an older temp is a leftover even if its pid was reused. */
const TEMP_MAX_AGE_MS = 10 * 60_000

export interface LeftoverTemp {
  path: string
  /** The file it was about to replace. */
  target: string
  ageMs: number
}

/** Whether process `pid` runs on this host (EPERM: it runs as another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false // kill(0) would signal our own process group
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Temp files of writes killed halfway (SIGKILL, power loss) in `dir`: their writer is gone,
 * or they are older than any write takes. They may hold a token (a backup, a token file), so
 * the next run removes them. `target` narrows to the temps of one file.
 */
export function leftoverTemps(dir: string, opts: { target?: string; now?: number } = {}): LeftoverTemp[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const now = opts.now ?? Date.now()
  const out: LeftoverTemp[] = []
  for (const name of names) {
    const m = TEMP.exec(name)
    if (!m || (opts.target !== undefined && m[1] !== opts.target)) continue
    const path = join(dir, name)
    let ageMs: number
    try {
      ageMs = now - statSync(path).mtimeMs
    } catch {
      continue
    }
    const pid = Number(m[2])
    if (pid !== process.pid && (!pidAlive(pid) || ageMs > TEMP_MAX_AGE_MS)) out.push({ path, target: join(dir, m[1]), ageMs })
  }
  return out
}

/** Removes `leftoverTemps(dir)`; returns what was removed. */
export function removeLeftoverTemps(dir: string, opts: { target?: string } = {}): LeftoverTemp[] {
  const found = leftoverTemps(dir, opts)
  for (const t of found) rmSync(t.path, { force: true })
  return found
}
