/**
 * The one way credflow reads a file whose path a person gave it (token file, client secrets,
 * kubeconfig, workflow file, registry, state). A path can name anything: a FIFO (open() would
 * block the event loop until a writer comes), a device (/dev/zero never ends), a /proc or
 * /sys entry (sizes lie), a directory, a symlink into someone else's tree, a 2 GB log. Each
 * is refused with a message naming the file and what it is, before a byte is read; secret
 * files readable by group or others, and symlinks out of their directory, are warned about.
 * test/unit/safe-open.test.ts greps lib/ and tasks/ for fs reads outside this file.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statfsSync, type Stats } from 'node:fs'
import { dirname, relative, isAbsolute } from 'node:path'
import { OpsError } from './errors.ts'
import { expandHome } from './paths.ts'

/** statfs f_type of the pseudo-filesystems (linux/magic.h): their files are not data. */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x73636673: 'securityfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0xcafe4a11: 'bpf',
  0x62656570: 'configfs',
  0x6e736673: 'nsfs',
  0x50495045: 'pipefs',
  0x534f434b: 'sockfs',
}

export interface SafeReadOptions {
  /** What the file is, as the message names it: "token file", "kubeconfig". */
  what: string
  /** Larger files are refused: nothing credflow reads is big. */
  maxBytes: number
  /** Holds secret material: a warning when group or others may read it. */
  secret?: boolean
  /** OpsError reasons, for callers whose callers branch on them. */
  missingReason?: string
  invalidReason?: string
  tooLargeReason?: string
  /** Appended to every refusal: what to do. */
  hint?: string
}

export interface UserFile {
  bytes: Buffer
  /** The path as used (`~` expanded). */
  path: string
  stat: Stats
}

const policy = { warn: (_line: string) => {}, warned: new Set<string>() }

/** Where warnings go (the run's notices); set once per CLI invocation. Each is said once. */
export function setFileWarnings(warn: (line: string) => void): void {
  policy.warn = warn
  policy.warned.clear()
}

function warnOnce(key: string, line: string): void {
  if (policy.warned.has(key)) return
  policy.warned.add(key)
  policy.warn(line)
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'not a regular file'
}

const mib = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`)

/**
 * What is at `path` (lstat, then the target), judged without opening it: undefined when
 * nothing is there. Throws the same refusals as readUserFile for what is there but wrong.
 */
export function statUserFile(path: string, opts: Omit<SafeReadOptions, 'maxBytes'> & { maxBytes?: number }): Stats | undefined {
  const full = expandHome(path)
  const fail = (message: string, reason = opts.invalidReason ?? 'FileRefused', hint = opts.hint) => new OpsError(message, { reason, hint })
  let link: Stats
  try {
    link = lstatSync(full)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw fail(`cannot read ${opts.what} ${full}: ${code ?? (e as Error).message}`, opts.invalidReason ?? 'FileUnreadable', opts.hint ?? `check its permissions: ls -l ${full}`)
  }
  if (link.isSymbolicLink()) {
    let real: string
    try {
      real = realpathSync(full)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return undefined // a dangling link: the file does not exist
      throw fail(`cannot read ${opts.what} ${full}: ${code ?? (e as Error).message}`)
    }
    // A link to elsewhere in its own directory tree is a layout; one that leaves it may be a plant.
    const home = realDir(dirname(full))
    const rel = relative(home, real)
    if (rel.startsWith('..') || isAbsolute(rel)) {
      warnOnce(`link:${full}`, `warning: ${opts.what} ${full} is a symlink to ${real}, outside ${dirname(full)}: make sure that is the file you mean`)
    }
  }
  let st: Stats
  try {
    st = lstatSync(link.isSymbolicLink() ? realpathSync(full) : full)
  } catch (e) {
    throw fail(`cannot read ${opts.what} ${full}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  if (!st.isFile()) throw fail(`${opts.what} ${full} is ${kindOf(st)}, not a regular file: refusing to read it`)
  const fs = pseudoFs(full)
  if (fs) throw fail(`${opts.what} ${full} is on the ${fs} pseudo-filesystem, not a file with data: refusing to read it`)
  if (opts.maxBytes !== undefined && st.size > opts.maxBytes) {
    throw fail(`${opts.what} ${full} is ${mib(st.size)}; a ${opts.what} is at most ${mib(opts.maxBytes)}: is this the right file?`, opts.tooLargeReason ?? opts.invalidReason)
  }
  if (opts.secret) judgeSecretMode(full, st, opts)
  return st
}

function judgeSecretMode(full: string, st: Stats, opts: Pick<SafeReadOptions, 'what'>): void {
  if ((st.mode & 0o077) === 0) return
  // Warned, not refused: the upstream tools write their token files with the umask (0644
  // is common) on every refresh, so a refusal would stop every weekly run until someone
  // changed the tool; the warning names the fix.
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0')
  const who = st.mode & 0o004 ? 'every user on this host' : 'its group'
  warnOnce(`mode:${full}`, `warning: ${opts.what} ${full} has mode ${mode}: ${who} can read the credential in it; fix: chmod 600 ${full}`)
}

function realDir(dir: string): string {
  try {
    return realpathSync(dir)
  } catch {
    return dir
  }
}

/** The pseudo-filesystem `path` is on (proc, sysfs, …), or undefined for a real one. */
export function pseudoFs(path: string): string | undefined {
  try {
    return PSEUDO_FS[Number(statfsSync(path).type)]
  } catch {
    return undefined
  }
}

/**
 * Read the whole file at `path`, judged first (see statUserFile). Opened with O_NONBLOCK, so
 * even a FIFO swapped in after the check cannot block; the open file is checked again.
 */
export function readUserFile(path: string, opts: SafeReadOptions): UserFile {
  const full = expandHome(path)
  const pre = statUserFile(full, opts)
  if (!pre) {
    throw new OpsError(`cannot read ${opts.what} ${full}: ENOENT (no such file)`, { reason: opts.missingReason ?? 'FileMissing', hint: opts.hint })
  }
  let fd: number
  try {
    fd = openSync(full, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new OpsError(`cannot read ${opts.what} ${full}: ${code ?? (e as Error).message}`, {
      reason: code === 'ENOENT' ? (opts.missingReason ?? 'FileMissing') : (opts.invalidReason ?? 'FileUnreadable'),
      hint: opts.hint ?? `check its permissions: ls -l ${full}`,
    })
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new OpsError(`${opts.what} ${full} is ${kindOf(st)}, not a regular file: refusing to read it`, { reason: opts.invalidReason ?? 'FileRefused', hint: opts.hint })
    // Read at most one byte past the cap: a file that grows after the check is still caught.
    const buf = Buffer.alloc(Math.min(st.size, opts.maxBytes) + 1)
    let n = 0
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null)
      if (got === 0) break
      n += got
      if (n === buf.length) break
    }
    if (n > opts.maxBytes) throw new OpsError(`${opts.what} ${full} is larger than ${mib(opts.maxBytes)}: is this the right file?`, { reason: opts.tooLargeReason ?? opts.invalidReason ?? 'FileRefused', hint: opts.hint })
    if (n === buf.length) throw new OpsError(`${opts.what} ${full} grew while it was read (is something writing it?)`, { reason: opts.invalidReason ?? 'FileUnreadable', retryable: true, hint: 'wait for the writer to finish, then run again' })
    return { bytes: buf.subarray(0, n), path: full, stat: st }
  } catch (e) {
    if (e instanceof OpsError) throw e
    const code = (e as NodeJS.ErrnoException).code
    throw new OpsError(`cannot read ${opts.what} ${full}: ${code ?? (e as Error).message}`, { reason: opts.invalidReason ?? 'FileUnreadable', hint: opts.hint ?? `check its permissions: ls -l ${full}` })
  } finally {
    closeSync(fd)
  }
}

/** readUserFile, or undefined when the file does not exist (other refusals still throw). */
export function readUserFileIfExists(path: string, opts: SafeReadOptions): UserFile | undefined {
  return statUserFile(path, opts) ? readUserFile(path, opts) : undefined
}

/** Caps for what credflow reads: all of it is small. */
export const MAX_BYTES = {
  token: 64 * 1024,
  clientSecrets: 64 * 1024,
  kubeconfig: 4 * 1024 * 1024,
  workflow: 1024 * 1024,
  registry: 1024 * 1024,
  state: 16 * 1024 * 1024,
} as const
