// .ci/run always ends with "N passed, N failed" and a non-zero exit on any failure: a test
// file that fails without a failing test counts, and so does a step that fails before the
// tests. Runs the real script in a scratch checkout with a stand-in npm and setup scripts.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../fixtures/engine/harness.ts'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credflow-ci-'))
  for (const d of ['.ci', 'test/k8s', 'test/ops', 'scripts', 'bin']) mkdirSync(join(dir, d), { recursive: true })
  copyFileSync(join(ROOT, '.ci/run'), join(dir, '.ci/run'))
  for (const s of ['test/k8s/build.sh', 'test/ops/tools.sh', 'scripts/python-clients.sh']) writeFileSync(join(dir, s), 'exit "${FAKE_SETUP_RC:-0}"\n')
  // npm: `ci` exits FAKE_CI_RC; `run typecheck`/`run lint` exit FAKE_TYPECHECK_RC/FAKE_LINT_RC (and
  // leave a mark, to show the tests still ran after them); `test` writes FAKE_REPORT (if set)
  // where --outputFile.json says, exits FAKE_TEST_RC.
  writeFileSync(
    join(dir, 'bin/npm'),
    `#!/usr/bin/env bash
case "$1" in
  --version) echo 10.0.0 ;;
  ci) exit "\${FAKE_CI_RC:-0}" ;;
  run) echo "ran $2"; case "$2" in typecheck) exit "\${FAKE_TYPECHECK_RC:-0}" ;; lint) exit "\${FAKE_LINT_RC:-0}" ;; esac; exit 9 ;;
  test) for a in "$@"; do case "$a" in --outputFile.json=*) [[ -z "\${FAKE_REPORT:-}" ]] || printf '%s' "$FAKE_REPORT" > "\${a#*=}" ;; esac; done
        exit "\${FAKE_TEST_RC:-0}" ;;
esac
`,
  )
  chmodSync(join(dir, 'bin/npm'), 0o755)
  // The real go would start its telemetry helper, which writes under HOME after the script ends.
  writeFileSync(join(dir, 'bin/go'), '#!/bin/sh\necho go version stand-in\n')
  chmodSync(join(dir, 'bin/go'), 0o755)
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

function ci(env: Record<string, string>) {
  const r = spawnSync('bash', [join(dir, '.ci/run')], { env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir, ...env }, encoding: 'utf8' })
  const lines = r.stdout.trimEnd().split('\n')
  return { code: r.status, last: lines[lines.length - 1], stderr: r.stderr, stdout: r.stdout }
}

const report = (o: { passed: number; failed: number; files: Array<{ name: string; status: string; message?: string; assertions: string[] }> }) =>
  JSON.stringify({
    numPassedTests: o.passed,
    numFailedTests: o.failed,
    numFailedTestSuites: o.files.filter((f) => f.status === 'failed').length,
    success: o.failed === 0 && o.files.every((f) => f.status === 'passed'),
    testResults: o.files.map((f) => ({ name: f.name, status: f.status, message: f.message ?? '', assertionResults: f.assertions.map((status) => ({ status })) })),
  })

describe('.ci/run', () => {
  it('reports the counts and exits 0 when everything passed', () => {
    const r = ci({ FAKE_REPORT: report({ passed: 3, failed: 0, files: [{ name: 'a.test.ts', status: 'passed', assertions: ['passed', 'passed', 'passed'] }] }) })
    expect(r).toMatchObject({ code: 0, last: '3 passed, 0 failed' })
  })
  it('counts failing tests once each (not again as failed suites)', () => {
    const r = ci({ FAKE_TEST_RC: '1', FAKE_REPORT: report({ passed: 1, failed: 2, files: [{ name: 'a.test.ts', status: 'failed', assertions: ['passed', 'failed', 'failed'] }] }) })
    expect(r).toMatchObject({ code: 1, last: '1 passed, 2 failed' })
  })
  it('counts a test file that failed without a failing test (an import error) as a failure, and names it', () => {
    const files = [
      { name: 'good.test.ts', status: 'passed', assertions: ['passed'] },
      { name: 'broken.test.ts', status: 'failed', message: 'Error: Cannot find module ./gone.ts\n  at …', assertions: [] },
    ]
    const r = ci({ FAKE_TEST_RC: '1', FAKE_REPORT: report({ passed: 1, failed: 0, files }) })
    expect(r).toMatchObject({ code: 1, last: '1 passed, 1 failed' })
    expect(r.stderr).toContain('failed without a failing test: broken.test.ts: Error: Cannot find module ./gone.ts')
  })
  it('counts a failing vitest run that names no failure (a failing globalSetup) as one failure', () => {
    const r = ci({ FAKE_TEST_RC: '1', FAKE_REPORT: report({ passed: 0, failed: 0, files: [] }) })
    expect(r).toMatchObject({ code: 1, last: '0 passed, 1 failed' })
  })
  it('runs typecheck and lint before the tests, and counts a failing check as one failure without skipping the tests', () => {
    const passing = report({ passed: 3, failed: 0, files: [{ name: 'a.test.ts', status: 'passed', assertions: ['passed', 'passed', 'passed'] }] })
    const ok = ci({ FAKE_REPORT: passing })
    expect(ok.stdout.indexOf('ran typecheck')).toBeLessThan(ok.stdout.indexOf('ran lint'))
    expect(ok.stdout.indexOf('ran lint')).toBeLessThan(ok.stdout.indexOf('== npm test'))
    const lint = ci({ FAKE_LINT_RC: '1', FAKE_REPORT: passing })
    expect(lint).toMatchObject({ code: 1, last: '3 passed, 1 failed' })
    expect(lint.stderr).toContain('npm run lint failed')
    const both = ci({ FAKE_LINT_RC: '1', FAKE_TYPECHECK_RC: '2', FAKE_REPORT: passing })
    expect(both).toMatchObject({ code: 1, last: '3 passed, 2 failed' })
    const noReport = ci({ FAKE_TYPECHECK_RC: '2', FAKE_TEST_RC: '3' })
    expect(noReport).toMatchObject({ code: 3, last: '0 passed, 2 failed' })
  })
  it.each([
    ['npm ci', { FAKE_CI_RC: '7' }, 7],
    ['a setup script', { FAKE_SETUP_RC: '3' }, 3],
    ['npm test without a report', { FAKE_TEST_RC: '2' }, 2],
  ])('still ends with the line, and exits non-zero, when %s fails', (_, env, code) => {
    const r = ci(env)
    expect({ code: r.code, last: r.last }, r.stdout + r.stderr).toEqual({ code, last: '0 passed, 1 failed' })
  })
})
