// The CI diff reporter (test/reporters/failure-diffs.ts) run by the real vitest on a scratch
// project whose one test fails a deep equality in one nested field, and one passes: the file
// names the failing test, its message, and the changed lines under the key that holds them.
import { it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../fixtures/engine/harness.ts'
import { changed } from '../reporters/failure-diffs.ts'

it('appends each failing test with the changed lines of its diff, nothing for a passing one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-diffs-'))
  try {
    writeFileSync(join(dir, 'vitest.config.mjs'), "export default { test: { globals: true, include: ['*.test.mjs'] } }\n")
    writeFileSync(
      join(dir, 'world.test.mjs'),
      "const world = (rv) => ({ secret: { uid: 'a', resourceVersion: '1' }, deployment: { generation: 3, resourceVersion: rv }, pvc: { uid: 'p' } })\n" +
        "test('the world is unchanged', () => { expect(world('11')).toEqual(world('10')) })\n" +
        "test('passes', () => { expect(1).toBe(1) })\n",
    )
    const out = join(dir, 'diffs.txt')
    const vitest = (diffs: string) =>
      spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, '--reporter=dot', `--reporter=${join(ROOT, 'test/reporters/failure-diffs.ts')}`], {
        env: { ...process.env, CREDFLOW_FAILURE_DIFFS: diffs },
        encoding: 'utf8',
        timeout: 60_000,
      })
    const r = vitest(out)
    expect(r.status, r.stdout + r.stderr).toBe(1)
    expect(readFileSync(out, 'utf8').split('\n')).toEqual([
      'world.test.mjs: the world is unchanged',
      "  expected { secret: { uid: 'a', …(1) }, …(2) } to deeply equal { secret: { uid: 'a', …(1) }, …(2) }",
      '    - Expected',
      '    + Received',
      '        "deployment": {',
      '    -     "resourceVersion": "10",',
      '    +     "resourceVersion": "11",',
      '',
    ])
    // Without CREDFLOW_FAILURE_DIFFS it writes nothing (a developer's own `npm test`).
    rmSync(out)
    expect(vitest('').status).toBe(1)
    expect(existsSync(out)).toBe(false)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

it('keeps each run of changed lines under the line of the key that holds it', () => {
  const diff = ['- Expected', '+ Received', '', '  {', '    "a": {', '      "x": 1,', '-     "y": 2,', '+     "y": 3,', '    },', '    "b": 1,', '-   "c": 1,', '+   "c": 2,', '  }']
  expect(changed(diff)).toEqual(['- Expected', '+ Received', '    "a": {', '-     "y": 2,', '+     "y": 3,', '  {', '-   "c": 1,', '+   "c": 2,'])
})
