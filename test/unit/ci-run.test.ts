// .ci/run always ends with "N passed, N failed" and a non-zero exit on any failure: a test
// file that fails without a failing test counts, and so does a step that fails before the
// tests, and so do failures on the Node 22 leg (unit tests, demo). Runs the real script in a
// scratch checkout with a stand-in npm, setup scripts and Node fetcher, on a stand-in Node 20
// machine, so it must fetch the pinned Nodes and run each leg on the right one.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../fixtures/engine/harness.ts'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credflow-ci-'))
  for (const d of ['.ci', 'lib', 'scripts', 'test/k8s', 'test/ops', 'test/node', 'bin']) mkdirSync(join(dir, d), { recursive: true })
  copyFileSync(join(ROOT, '.ci/run'), join(dir, '.ci/run'))
  copyFileSync(join(ROOT, 'lib/node-support.mjs'), join(dir, 'lib/node-support.mjs'))
  for (const s of ['test/k8s/build.sh', 'test/k8s/kubectl.sh', 'test/ops/tools.sh', 'scripts/python-clients.sh']) writeFileSync(join(dir, s), 'exit "${FAKE_SETUP_RC:-0}"\n')
  // The machine's node is Node 20 (to .ci/run's questions); anything else runs on the real one.
  executable('bin/node', `[[ "$*" == *node-support.mjs* ]] && exit 2\n[[ $1 == -p ]] && { echo 20; exit; }\n[[ $1 == --version ]] && { echo v20.20.2; exit; }\nexec ${process.execPath} "$@"`)
  // fetch.sh MAJOR: logs the call, prints a bin dir whose node says it is vMAJOR.0.0.
  executable(
    'test/node/fetch.sh',
    `echo "$1" >> "$HOME/fetch.log"\nmkdir -p "$HOME/node-$1"\nprintf '#!/bin/bash\\n[[ $1 == --version ]] && { echo v%s.0.0; exit; }\\nexec %s "$@"\\n' "$1" ${process.execPath} > "$HOME/node-$1/node"\nchmod +x "$HOME/node-$1/node"\necho "$HOME/node-$1"`,
  )
  // npm logs each call with the Node it runs on. `ci` exits FAKE_CI_RC; `test` writes FAKE_REPORT
  // (FAKE_REPORT22 with --project unit) where --outputFile.json says and exits FAKE_TEST_RC
  // (FAKE_TEST22_RC); `run demo` exits FAKE_DEMO_RC; `run typecheck`/`run lint` exit
  // FAKE_TYPECHECK_RC/FAKE_LINT_RC (and leave a mark, to show the tests still ran after them).
  // FAKE_DIFF is what the diff reporter would append on the Node 24 leg.
  executable(
    'bin/npm',
    `echo "$* @ $(node --version)" >> "$HOME/npm.log"
case "$1" in
  --version) echo 10.0.0 ;;
  ci) exit "\${FAKE_CI_RC:-0}" ;;
  test) unit=0; out=
        for a in "$@"; do case "$a" in --project) unit=1 ;; --outputFile.json=*) out=\${a#*=} ;; esac; done
        if [[ $unit -eq 1 ]]; then rep=\${FAKE_REPORT22:-}; rc=\${FAKE_TEST22_RC:-0}; else rep=\${FAKE_REPORT:-}; rc=\${FAKE_TEST_RC:-0}; fi
        [[ -z "$rep" || -z "$out" ]] || printf '%s' "$rep" > "$out"
        [[ $unit -eq 1 || -z "\${FAKE_DIFF:-}" ]] || printf '%s\\n' "$FAKE_DIFF" >> "$CREDFLOW_FAILURE_DIFFS"
        exit "$rc" ;;
  run) echo "ran $2"; case "$2" in typecheck) exit "\${FAKE_TYPECHECK_RC:-0}" ;; lint) exit "\${FAKE_LINT_RC:-0}" ;; demo) exit "\${FAKE_DEMO_RC:-0}" ;; esac; exit 9 ;;
esac`,
  )
  // The real go would start its telemetry helper, which writes under HOME after the script ends.
  executable('bin/go', 'echo go version stand-in')
})
function executable(path: string, body: string): void {
  writeFileSync(join(dir, path), `#!/usr/bin/env bash\n${body}\n`)
  chmodSync(join(dir, path), 0o755)
}
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const log = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8').trimEnd().split('\n') : [])

function ci(env: Record<string, string>) {
  // By default the Node 22 unit leg passes one test (and the demo passes: one more).
  const defaults = { FAKE_REPORT22: report({ passed: 1, failed: 0, files: [{ name: 'u.test.ts', status: 'passed', assertions: ['passed'] }] }) }
  const r = spawnSync('bash', [join(dir, '.ci/run')], { env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir, ...defaults, ...env }, encoding: 'utf8' })
  const lines = r.stdout.trimEnd().split('\n')
  return { code: r.status, last: lines[lines.length - 1], stderr: r.stderr, stdout: r.stdout }
}

const report = (o: { passed: number; failed: number; files: Array<{ name: string; status: string; message?: string; assertions: string[] }> }) =>
  JSON.stringify({
    numPassedTests: o.passed,
    numFailedTests: o.failed,
    numFailedTestSuites: o.files.filter((f) => f.status === 'failed').length,
    success: o.failed === 0 && o.files.every((f) => f.status === 'passed'),
    testResults: o.files.map((f) => ({ name: f.name, status: f.status, message: f.message ?? '', assertionResults: f.assertions.map((status, i) => ({ status, fullName: `case ${i}`, failureMessages: status === 'failed' ? [`AssertionError: case ${i} broke\n  at …`] : [] })) })),
  })

const passing = (n: number) => report({ passed: n, failed: 0, files: [{ name: 'a.test.ts', status: 'passed', assertions: Array(n).fill('passed') }] })

describe('.ci/run', () => {
  it('reports the counts of every leg (Node 24 suite, Node 22 unit tests, Node 22 demo) and exits 0 when everything passed', () => {
    const r = ci({ FAKE_REPORT: passing(3), FAKE_REPORT22: passing(2) })
    expect(r).toMatchObject({ code: 0, last: '6 passed, 0 failed' })
  })
  it('on a Node 20 machine fetches the pinned Node 24 and 22, runs npm ci and the suite on 24, the unit tests and the demo on 22', () => {
    const r = ci({ FAKE_REPORT: passing(3) })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(log('fetch.log')).toEqual(['24', '22'])
    expect(log('npm.log')).toEqual([
      '--version @ v20.20.2',
      'ci --no-audit --no-fund @ v24.0.0',
      'run typecheck @ v24.0.0',
      'run lint @ v24.0.0',
      'test -- --reporter=default --reporter=json --reporter=./test/reporters/failure-diffs.ts --outputFile.json=.vitest-report.json @ v24.0.0',
      'test -- --project unit --reporter=default --reporter=json --reporter=./test/reporters/failure-diffs.ts --outputFile.json=.vitest-report-node22.json @ v22.0.0',
      'run demo @ v22.0.0',
    ])
  })
  it('counts failing tests once each (not again as failed suites)', () => {
    const r = ci({ FAKE_TEST_RC: '1', FAKE_REPORT: report({ passed: 1, failed: 2, files: [{ name: 'a.test.ts', status: 'failed', assertions: ['passed', 'failed', 'failed'] }] }) })
    expect(r).toMatchObject({ code: 1, last: '3 passed, 2 failed' })
  })
  it('counts failures on the Node 22 leg: a failing unit test, and a failing demo', () => {
    const unit = ci({ FAKE_REPORT: passing(3), FAKE_TEST22_RC: '1', FAKE_REPORT22: report({ passed: 1, failed: 1, files: [{ name: 'u.test.ts', status: 'failed', assertions: ['passed', 'failed'] }] }) })
    expect(unit).toMatchObject({ code: 1, last: '5 passed, 1 failed' })
    const demo = ci({ FAKE_REPORT: passing(3), FAKE_DEMO_RC: '4' })
    expect(demo).toMatchObject({ code: 4, last: '4 passed, 1 failed' })
    expect(demo.stderr).toContain('Node 22 demo: failed (exit 4)')
  })
  it('counts a test file that failed without a failing test (an import error) as a failure, and names it', () => {
    const files = [
      { name: 'good.test.ts', status: 'passed', assertions: ['passed'] },
      { name: 'broken.test.ts', status: 'failed', message: 'Error: Cannot find module ./gone.ts\n  at …', assertions: [] },
    ]
    const r = ci({ FAKE_TEST_RC: '1', FAKE_REPORT: report({ passed: 1, failed: 0, files }) })
    expect(r).toMatchObject({ code: 1, last: '3 passed, 1 failed' })
    expect(r.stderr).toContain('Node 24 npm test: failed without a failing test: broken.test.ts: Error: Cannot find module ./gone.ts')
  })
  it('names every failure (leg, file, test, first error line) just above the summary line', () => {
    const r = ci({
      FAKE_TEST_RC: '1',
      FAKE_REPORT: report({ passed: 1, failed: 1, files: [{ name: 'a.test.ts', status: 'failed', assertions: ['passed', 'failed'] }, { name: 'broken.test.ts', status: 'failed', message: 'Error: Cannot find module ./gone.ts', assertions: [] }] }),
      FAKE_DEMO_RC: '4',
    })
    expect(r).toMatchObject({ code: 4, last: '2 passed, 3 failed' })
    const tail = r.stdout.trimEnd().split('\n').slice(-6)
    expect(tail).toEqual([
      'failed:',
      '  Node 24 npm test: failed without a failing test: broken.test.ts: Error: Cannot find module ./gone.ts',
      '  Node 24 npm test: a.test.ts: case 1: AssertionError: case 1 broke',
      '  Node 22 demo: failed (exit 4)',
      '',
      '2 passed, 3 failed',
    ])
  })
  it('prints the changed lines of each failing diff (from the diff reporter) above the list of failures, and leaves no temp file', () => {
    mkdirSync(join(dir, 'tmp'))
    const r = ci({
      TMPDIR: join(dir, 'tmp'),
      FAKE_TEST_RC: '1',
      FAKE_REPORT: report({ passed: 1, failed: 1, files: [{ name: 'a.test.ts', status: 'failed', assertions: ['passed', 'failed'] }] }),
      FAKE_DIFF: 'a.test.ts: case 1\n  expected { … } to deeply equal { … }\n    -     "resourceVersion": "11",',
    })
    expect(r).toMatchObject({ code: 1, last: '3 passed, 1 failed' })
    expect(readdirSync(join(dir, 'tmp'))).toEqual([])
    const tail = r.stdout.trimEnd().split('\n').slice(-9)
    expect(tail).toEqual([
      'what the failing assertions saw (the changed lines of each diff):',
      '  a.test.ts: case 1',
      '    expected { … } to deeply equal { … }',
      '      -     "resourceVersion": "11",',
      '',
      'failed:',
      '  Node 24 npm test: a.test.ts: case 1: AssertionError: case 1 broke',
      '',
      '3 passed, 1 failed',
    ])
    expect(ci({ FAKE_REPORT: passing(3) }).stdout).not.toContain('what the failing assertions saw')
  })
  it('counts a failing vitest run that names no failure (a failing globalSetup) as one failure', () => {
    const r = ci({ FAKE_TEST_RC: '1', FAKE_REPORT: report({ passed: 0, failed: 0, files: [] }) })
    expect(r).toMatchObject({ code: 1, last: '2 passed, 1 failed' })
  })
  it('counts a vitest run that wrote no report as one failure, and still runs the Node 22 leg', () => {
    const r = ci({ FAKE_TEST_RC: '2' })
    expect(r).toMatchObject({ code: 2, last: '2 passed, 1 failed' })
    expect(r.stderr).toContain('Node 24 npm test: vitest wrote no report (exit 2): counted as one failure')
  })
  it('runs typecheck and lint before the tests, and counts a failing check as one failure without skipping the tests', () => {
    const ok = ci({ FAKE_REPORT: passing(3) })
    expect(ok.stdout.indexOf('ran typecheck')).toBeLessThan(ok.stdout.indexOf('ran lint'))
    expect(ok.stdout.indexOf('ran lint')).toBeLessThan(ok.stdout.indexOf('== npm test'))
    const lint = ci({ FAKE_LINT_RC: '1', FAKE_REPORT: passing(3) })
    expect(lint).toMatchObject({ code: 1, last: '5 passed, 1 failed' })
    expect(lint.stderr).toContain('npm run lint failed')
    const both = ci({ FAKE_LINT_RC: '1', FAKE_TYPECHECK_RC: '2', FAKE_REPORT: passing(3) })
    expect(both).toMatchObject({ code: 1, last: '5 passed, 2 failed' })
    const noReport = ci({ FAKE_TYPECHECK_RC: '2', FAKE_TEST_RC: '3' })
    expect(noReport).toMatchObject({ code: 3, last: '2 passed, 2 failed' })
  })
  it.each([
    ['npm ci', { FAKE_CI_RC: '7' }, 7],
    ['a setup script', { FAKE_SETUP_RC: '3' }, 3],
  ])('still ends with the line, and exits non-zero, when %s fails', (_, env, code) => {
    const r = ci(env)
    expect({ code: r.code, last: r.last }, r.stdout + r.stderr).toEqual({ code, last: '0 passed, 1 failed' })
  })
})
