// The one safe-open helper (lib/safe-open.ts): what a user-given path may name, and the
// proof that nothing else in lib/ or tasks/ reads a user path behind its back.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { execFileSync, spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { readUserFile, statUserFile, setFileWarnings } from '../../lib/safe-open.ts'
import { ROOT } from '../fixtures/engine/harness.ts'

/**
 * fs calls that read a file or judge one, outside the helper, each with why it may: none of
 * them takes a path from the operator. A new one fails this test until it goes through
 * lib/safe-open.ts or is added here with its reason.
 */
const ALLOWED: Record<string, string> = {
  'lib/atomic-file.ts': 'creates its own temp file (O_EXCL) and fsyncs a directory; reads nothing',
  'lib/k8s/client-node-bundle.ts': "reads client-node's package.json under node_modules, not a user path",
  'lib/k8s/secret-backup.ts': "reads the backup it wrote itself (0600, in the run's 0700 directory, judged by the state-dir check)",
  'lib/engine/lock.ts': "reads /proc/<pid>/stat and the boot id (kernel files), and the lock file it writes itself with link(2)",
  'tasks/gmail/consent-method.ts': 'stats candidates on PATH to find an executable (reads nothing)',
  'lib/engine/state-dir.ts': 'stats directories (a stat never blocks, never reads data)',
  'lib/engine/leftovers.ts': 'stats the files runs left in their own run directories (a stat never blocks, never reads data)',
  'lib/engine/commands/version.ts': "reads the checkout's own package.json, not a user path",
  'lib/engine/bundle.ts': "reads the checkout's own sources and its bundle's manifest under node_modules/.cache, not a user path",
}
const FS_READ = /\b(readFileSync|statSync|lstatSync|fstatSync|openSync|readSync|readFile|createReadStream)\s*\(|\b(fs|fsp|promises)\.open\s*\(/

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    return e.isDirectory() ? sources(p) : /\.(ts|mjs)$/.test(e.name) ? [p] : []
  })
}

describe('one safe-open helper', () => {
  it('no file in lib/ or tasks/ reads or stats a path outside lib/safe-open.ts, except the listed ones', () => {
    const offenders: string[] = []
    for (const f of [...sources('lib'), ...sources('tasks')]) {
      if (f === 'lib/safe-open.ts') continue
      const lines = readFileSync(join(ROOT, f), 'utf8').split('\n')
      lines.forEach((l, i) => {
        if (FS_READ.test(l.replace(/\/\/.*$/, '')) && !/^\s*(\*|\/\/)/.test(l) && !ALLOWED[f]) offenders.push(`${f}:${i + 1}: ${l.trim()}`)
      })
    }
    expect(offenders).toEqual([])
  })

  it('the allow-list names only files that still need it (no stale entries)', () => {
    for (const f of Object.keys(ALLOWED)) {
      let text = ''
      try {
        text = readFileSync(join(ROOT, f), 'utf8')
      } catch {
        // moved away: the entry must go
      }
      expect(FS_READ.test(text), `${f} no longer reads files: remove it from ALLOWED`).toBe(true)
    }
  })
})

let dir: string
let warnings: string[]
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'credflow-safe-open-'))
  warnings = []
  setFileWarnings((l) => warnings.push(l))
})
afterAll(() => {
  setFileWarnings(() => {})
  rmSync(dir, { recursive: true, force: true })
})

const opts = { what: 'token file', maxBytes: 1024, secret: true }
const refusal = (path: string) => {
  try {
    readUserFile(path, opts)
  } catch (e) {
    return (e as Error).message
  }
  return 'read without complaint'
}

describe('readUserFile', () => {
  it('reads a regular private file whole', () => {
    const p = join(dir, 'ok.json')
    writeFileSync(p, '{"a":1}', { mode: 0o600 })
    expect(readUserFile(p, opts).bytes.toString()).toBe('{"a":1}')
  })

  it('refuses a FIFO without blocking (in a child process with a 5 s deadline)', () => {
    const fifo = join(dir, 'fifo.json')
    execFileSync('mkfifo', [fifo])
    // readUserFile is synchronous: if it blocked, only killing the process would end it.
    const script = `import('${join(ROOT, 'lib/safe-open.ts')}').then((m) => { try { m.readUserFile(${JSON.stringify(fifo)}, { what: 'token file', maxBytes: 1024 }) } catch (e) { console.log(e.message) } })`
    const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 5000 })
    expect(r.signal, 'blocked on the FIFO').toBeNull()
    expect(r.stdout.trim()).toBe(`token file ${fifo} is a FIFO (named pipe), not a regular file: refusing to read it`)
  })

  it('refuses a character device, a directory, a /proc entry and a file over the cap', () => {
    expect(refusal('/dev/zero')).toBe('token file /dev/zero is a character device, not a regular file: refusing to read it')
    expect(refusal(dir)).toBe(`token file ${dir} is a directory, not a regular file: refusing to read it`)
    expect(refusal('/proc/self/status')).toBe('token file /proc/self/status is on the proc pseudo-filesystem, not a file with data: refusing to read it')
    const big = join(dir, 'big.json')
    writeFileSync(big, 'x'.repeat(4096), { mode: 0o600 })
    expect(refusal(big)).toBe(`token file ${big} is 4 KiB; a token file is at most 1 KiB: is this the right file?`)
  })

  it('names a missing file by its expanded path', () => {
    expect(refusal(join(dir, 'nope.json'))).toBe(`cannot read token file ${join(dir, 'nope.json')}: ENOENT (no such file)`)
    expect(statUserFile(join(dir, 'nope.json'), opts)).toBeUndefined()
  })

  it('warns, once, about a secret file group or others can read and a symlink out of its directory', () => {
    const open = join(dir, 'open.json')
    writeFileSync(open, '{}')
    chmodSync(open, 0o644)
    readUserFile(open, opts)
    readUserFile(open, opts)
    expect(warnings.filter((w) => w.includes(open))).toEqual([`warning: token file ${open} has mode 0644: every user on this host can read the credential in it; fix: chmod 600 ${open}`])
    const inner = join(dir, 'inner')
    mkdirSync(inner)
    const link = join(inner, 'link.json')
    symlinkSync(join(dir, 'ok.json'), link)
    expect(readUserFile(link, opts).bytes.toString()).toBe('{"a":1}')
    expect(warnings).toContain(`warning: token file ${link} is a symlink to ${join(dir, 'ok.json')}, outside ${inner}: make sure that is the file you mean`)
    expect(relative(dir, link)).toBe('inner/link.json')
    expect(statSync(open).mode & 0o777).toBe(0o644) // warned, never changed
  })
})
