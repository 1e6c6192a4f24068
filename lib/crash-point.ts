/**
 * A deterministic test hook for the crash matrix: with CREDFLOW_TEST_CRASH_AT=<point>[#n],
 * the process SIGKILLs itself the nth time (default the first) the production code passes
 * <point>, so the crash lands exactly there (between a DELETE and a CREATE, before a rename)
 * and the code that was killed is the real one. Unset, it does nothing.
 */
const passed = new Map<string, number>()

export function crashPoint(point: string): void {
  const want = process.env.CREDFLOW_TEST_CRASH_AT
  if (!want) return
  const [name, nth] = want.split('#')
  if (name !== point) return
  const n = (passed.get(point) ?? 0) + 1
  passed.set(point, n)
  if (n === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL')
}
