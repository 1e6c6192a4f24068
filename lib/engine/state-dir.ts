/**
 * The state directory, judged before a run writes to it, and its write failures as messages
 * with the way out: missing (created), a file, read-only, on a pseudo-filesystem, full, not
 * ours. Never a stack trace: each is an OpsError the CLI shows with exit 2.
 */
import { accessSync, constants, lstatSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { OpsError } from '../errors.ts'
import { pseudoFs } from '../safe-open.ts'

const WAY_OUT = 'or record runs elsewhere: --state-dir DIR (or CREDFLOW_STATE_DIR)'

/** The nearest existing ancestor of `path` (itself if it exists). */
function existing(path: string): string {
  for (let p = path; ; p = dirname(p)) {
    try {
      lstatSync(p)
      return p
    } catch {
      if (dirname(p) === p) return p
    }
  }
}

/** Throws when `dir` cannot hold credflow's runs; a missing directory is fine (it is created 0700). */
export function checkStateDir(dir: string, opts: { write: boolean }): void {
  const at = existing(dir)
  let st
  try {
    st = statSync(at)
  } catch (e) {
    throw stateDirError(e, 'create', at, dir)
  }
  if (!st.isDirectory()) {
    throw new OpsError(`the state directory ${dir} cannot be used: ${at} is ${st.isFile() ? 'a file' : 'not a directory'}`, {
      reason: 'StateDirUnusable',
      hint: `move it aside (mv ${at} ${at}.bak) ${WAY_OUT}`,
    })
  }
  const fs = pseudoFs(at)
  if (fs) throw new OpsError(`the state directory ${dir} is on the ${fs} pseudo-filesystem, which cannot hold files`, { reason: 'StateDirUnusable', hint: `pick a real directory: --state-dir DIR (or CREDFLOW_STATE_DIR)` })
  if (!opts.write) return
  try {
    accessSync(at, constants.W_OK | constants.X_OK)
  } catch (e) {
    throw stateDirError(e, 'create', at, dir)
  }
}

/** A filesystem error while creating or writing `path` in the state directory, in words. */
export function stateDirError(e: unknown, verb: 'create' | 'write', path: string, stateDir: string): OpsError {
  const code = (e as NodeJS.ErrnoException)?.code
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the filesystem is read-only',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'the disk quota is used up',
    ENOTDIR: 'a part of the path is a file, not a directory',
    EEXIST: 'a file is in the way',
    EISDIR: 'a directory is in the way',
    ELOOP: 'too many symlinks',
    ENAMETOOLONG: 'the path is too long',
  }
  const reason = code && why[code] ? why[code] : String((e as Error)?.message ?? e)
  const full = code === 'ENOSPC' || code === 'EDQUOT'
  return new OpsError(`cannot ${verb} ${path} in the state directory ${stateDir}: ${reason}${code ? ` (${code})` : ''}`, {
    reason: 'StateDirUnusable',
    hint: full ? `free some space on that filesystem (df -h ${stateDir}) ${WAY_OUT}` : `check it: ls -ld ${dirname(path)}; fix its owner or mode ${WAY_OUT}`,
  })
}
