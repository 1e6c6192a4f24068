// The hostile cases that need no cluster (test/hostile/local-cases.ts): each runs the real CLI
// (or the wrapper) as a child process with a hard deadline, then asserts the exit code, the
// message's key phrases, no stack trace, and that nothing in its sandbox changed (every
// file's type, mode and hash; the state directory included unless the case starts a run).
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { LOCAL_CASES } from '../hostile/local-cases.ts'
import { runCase, fileSnapshot, expectations } from '../hostile/case.ts'
import { localSandbox, startHangServer } from '../hostile/local.ts'

let hang: Awaited<ReturnType<typeof startHangServer>>
beforeAll(async () => (hang = await startHangServer()))
afterAll(() => hang?.close())

describe.concurrent('hostile input, no cluster needed', () => {
  for (const c of LOCAL_CASES) {
    it(`${c.id} (class ${c.cls}): ${c.did}`, { timeout: 60_000 }, async () => {
      const s = localSandbox(hang.port)
      try {
        const run = await c.run(s)
        const keep = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([k]) => !(c.mayChange ?? []).some((m) => k === m || k.startsWith(m + '/'))))
        const before = keep(fileSnapshot(s.dir))
        const out = await runCase(run, s.env)
        expect(expectations(c, out), out.text).toEqual([])
        expect(keep(fileSnapshot(s.dir)), 'something in the sandbox changed').toEqual(before)
        await c.check?.(s, out)
      } finally {
        s.cleanup()
      }
    })
  }
})
