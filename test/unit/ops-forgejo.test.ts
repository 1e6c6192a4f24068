// .forgejo/workflows/gmail-reauth.yaml: lint-clean for actionlint and act's strict schema,
// dispatch inputs that mirror the DAG, and inputs that reach the engine only as CREDFLOW_*
// environment variables (the mapping script is extracted and run against a fake entry point).
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { REPO_ROOT, runTool, toolPath } from '../ops/tools.ts'

const WORKFLOW = join(REPO_ROOT, '.forgejo/workflows/gmail-reauth.yaml')
const ACTIONLINT_CONFIG = join(REPO_ROOT, 'test/ops/actionlint.yaml')
const source = readFileSync(WORKFLOW, 'utf8')
const wf = parse(source) as any
const job = wf.jobs['gmail-reauth']
const steps = job.steps as { name?: string; uses?: string; run?: string; if?: string; shell?: string }[]
const nodes = Object.keys((parse(readFileSync(join(REPO_ROOT, 'workflows/gmail-reauth.yaml'), 'utf8')) as any).nodes)

function actionlint(file: string) {
  return runTool('actionlint', ['-config-file', ACTIONLINT_CONFIG, '-shellcheck', toolPath('shellcheck'), '-pyflakes', '', '-no-color', file])
}

/** act's schema check needs a directory: copy the (edited) workflow into a scratch one. */
function actValidate(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-act-'))
  mkdirSync(join(dir, 'wf'))
  writeFileSync(join(dir, 'wf', 'gmail-reauth.yaml'), text)
  return runTool('act', ['--validate', '--strict', '-W', join(dir, 'wf')], { cwd: dir })
}

function brokenCopy(edit: (t: string) => string): string {
  const edited = edit(source)
  expect(edited).not.toBe(source)
  const file = join(mkdtempSync(join(tmpdir(), 'credflow-wf-')), 'gmail-reauth.yaml')
  writeFileSync(file, edited)
  return file
}

const STATUS_WORKFLOW = join(REPO_ROOT, '.forgejo/workflows/gmail-token-status.yaml')

describe('the daily status workflow (gmail-token-status)', () => {
  const wf = parse(readFileSync(STATUS_WORKFLOW, 'utf8')) as any
  it('passes actionlint (shellcheck on its run: script) and act\'s strict schema', () => {
    const r = actionlint(STATUS_WORKFLOW)
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
    const dir = mkdtempSync(join(tmpdir(), 'credflow-act-'))
    mkdirSync(join(dir, 'wf'))
    writeFileSync(join(dir, 'wf', 'gmail-token-status.yaml'), readFileSync(STATUS_WORKFLOW, 'utf8'))
    const v = runTool('act', ['--validate', '--strict', '-W', join(dir, 'wf')], { cwd: dir })
    expect(v.stdout + v.stderr).not.toMatch(/Validation Error/)
    expect(v.status).toBe(0)
  })

  it('runs daily on the operator host, queued behind any gmail-reauth run', () => {
    expect(wf.on.schedule).toEqual([{ cron: '0 7 * * *' }])
    expect(wf.jobs.status['runs-on']).toBe('operator-host')
    expect(wf.concurrency).toEqual({ group: 'gmail-reauth', 'cancel-in-progress': false })
  })

  it('names every exit code of the table it acts on', async () => {
    const { EXIT } = await import('../../lib/engine/exit-codes.ts')
    const script = wf.jobs.status.steps.find((s: any) => s.name === 'Token status').run as string
    for (const code of [EXIT.ok, EXIT.failed, EXIT.needsOperator, EXIT.expiringSoon, EXIT.drift]) expect(script).toMatch(new RegExp(`^\\s+${code}\\) `, 'm'))
  })
})

describe('the Forgejo workflow passes the linters', () => {
  it('actionlint (with shellcheck on every run: script) reports nothing', () => {
    const r = actionlint(WORKFLOW)
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it("act's strict workflow schema accepts it", () => {
    const r = actValidate(source)
    expect(r.stdout + r.stderr).not.toMatch(/Validation Error/)
    expect(r.status).toBe(0)
  })

  it('both reject a misspelled input type (the checks are live)', () => {
    const bad = brokenCopy((t) => t.replace('type: choice', 'type: choise'))
    const lint = actionlint(bad)
    expect(lint.status).not.toBe(0)
    expect(lint.stdout).toContain('but got "choise"')
    const schema = actValidate(readFileSync(bad, 'utf8'))
    expect(schema.status).not.toBe(0)
    expect(schema.stdout + schema.stderr).toContain('Expected choice got choise')
  })

  it('actionlint flags a shell bug inside run: (shellcheck is wired in)', () => {
    const bad = brokenCopy((t) => t.replace('export CREDFLOW_FROM="$INPUT_FROM"', 'export CREDFLOW_FROM=$INPUT_FROM; echo $INPUT_FROM'))
    const r = actionlint(bad)
    expect(r.status).not.toBe(0)
    expect(r.stdout).toContain('SC2086')
  })
})

describe('dispatch inputs and job shape', () => {
  const inputs = wf.on.workflow_dispatch.inputs

  it('mode is a choice of dry-run, apply or status, dry-run by default', () => {
    expect(inputs.mode).toMatchObject({ type: 'choice', options: ['dry-run', 'apply', 'status'], default: 'dry-run' })
  })

  it('resume is a boolean, off by default', () => {
    expect(inputs.resume).toMatchObject({ type: 'boolean', default: false })
  })

  it('from offers "start" and then every node of workflows/gmail-reauth.yaml, in order', () => {
    expect(inputs.from).toMatchObject({ type: 'choice', default: 'start' })
    expect(inputs.from.options).toEqual(['start', ...nodes])
  })

  it('runs on the operator host runner, one run at a time, queued not cancelled', () => {
    expect(job['runs-on']).toBe('operator-host')
    expect(wf.concurrency).toEqual({ group: 'gmail-reauth', 'cancel-in-progress': false })
  })

  it('never expands ${{ }} inside a run: script (inputs arrive as environment variables)', () => {
    for (const step of steps.filter((s) => s.run)) expect(step.run, step.name).not.toContain('${{')
    expect(job.env).toMatchObject({ INPUT_MODE: '${{ inputs.mode }}', INPUT_RESUME: '${{ inputs.resume }}', INPUT_FROM: '${{ inputs.from }}' })
  })

  it('runs the operator entry point non-interactively, and prints the SSH runbook on failure', () => {
    const run = steps.find((s) => s.name === 'Run gmail-reauth')!
    expect(run.run).toMatch(/^\s*scripts\/gmail-reauth\.sh --non-interactive\s*$/m)
    const runbook = steps.find((s) => s.if === 'failure()')!
    expect(runbook.run).toContain('ssh -t $OPERATOR_HOST')
    expect(runbook.run).toContain('scripts/gmail-reauth.sh')
  })
})

describe('inputs map to the engine environment', () => {
  const mapping = steps.find((s) => s.name === 'Run gmail-reauth')!.run!

  /** Runs the step's script with a fake scripts/gmail-reauth.sh that prints what it got. */
  function dispatch(inputs: { mode: string; resume: string; from: string }, runnerEnv: Record<string, string> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'credflow-dispatch-'))
    mkdirSync(join(dir, 'scripts'))
    const fake = join(dir, 'scripts/gmail-reauth.sh')
    writeFileSync(fake, '#!/bin/bash\nenv | grep ^CREDFLOW_ | sort\necho "args=$*"\n')
    chmodSync(fake, 0o755)
    const r = spawnSync('/bin/bash', ['-c', mapping], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: '/home/operator', INPUT_MODE: inputs.mode, INPUT_RESUME: inputs.resume, INPUT_FROM: inputs.from, ...runnerEnv },
    })
    const env = Object.fromEntries(r.stdout.split('\n').filter((l) => l.startsWith('CREDFLOW_')).map((l) => l.split(/=(.*)/s).slice(0, 2)))
    return { status: r.status, env, args: /args=(.*)/.exec(r.stdout)?.[1], stdout: r.stdout }
  }

  const base = { CREDFLOW_NON_INTERACTIVE: '1', CREDFLOW_STATE_DIR: '/home/operator/.local/state/credflow' }

  it('the default dispatch is a non-interactive dry run of the whole workflow', () => {
    const r = dispatch({ mode: 'dry-run', resume: 'false', from: 'start' })
    expect(r.status).toBe(0)
    expect(r.env).toEqual({ ...base, CREDFLOW_DRY_RUN: '1' })
    expect(r.args).toBe('--non-interactive')
  })

  it('mode=status only reads: --status, no dry run, no confirmation', () => {
    expect(dispatch({ mode: 'status', resume: 'false', from: 'start' }).env).toEqual({ ...base, CREDFLOW_STATUS: '1' })
  })
  it('mode=apply drops the dry run and confirms', () => {
    expect(dispatch({ mode: 'apply', resume: 'false', from: 'start' }).env).toEqual({ ...base, CREDFLOW_YES: '1' })
  })

  it('resume=true and from=<step> pass through; from=start sets nothing', () => {
    expect(dispatch({ mode: 'apply', resume: 'true', from: 'restart' }).env).toEqual({ ...base, CREDFLOW_YES: '1', CREDFLOW_RESUME: '1', CREDFLOW_FROM: 'restart' })
    expect(dispatch({ mode: 'dry-run', resume: 'true', from: 'start' }).env).not.toHaveProperty('CREDFLOW_FROM')
  })

  it("the runner's own CREDFLOW_* settings cannot turn an apply into a dry run (or back)", () => {
    const r = dispatch({ mode: 'apply', resume: 'false', from: 'start' }, { CREDFLOW_DRY_RUN: '1', CREDFLOW_FROM: 'reauth', CREDFLOW_STATE_DIR: '/srv/credflow' })
    expect(r.env).toEqual({ CREDFLOW_NON_INTERACTIVE: '1', CREDFLOW_YES: '1', CREDFLOW_STATE_DIR: '/srv/credflow' })
  })

  it('nor turn it into a read-only status, a single node or another workflow; host params stay', () => {
    const stray = {
      CREDFLOW_STATUS: '1',
      CREDFLOW_ONLY: 'verify-decode',
      CREDFLOW_FORCE: '1',
      CREDFLOW_GRAPH: '1',
      CREDFLOW_JSON: '1',
      CREDFLOW_WORKFLOW: 'other',
      CREDFLOW_WORKFLOWS_DIR: '/tmp/elsewhere',
      CREDFLOW_SET_KUBECONFIG: '/etc/credflow/kubeconfig',
    }
    const r = dispatch({ mode: 'apply', resume: 'false', from: 'start' }, stray)
    expect(r.env).toEqual({ ...base, CREDFLOW_YES: '1', CREDFLOW_SET_KUBECONFIG: '/etc/credflow/kubeconfig' })
  })

  it('refuses a mode it does not know (API dispatches are not limited to the options)', () => {
    const r = dispatch({ mode: 'yolo', resume: 'false', from: 'start' })
    expect(r.status).toBe(2)
    expect(r.stdout).toContain("::error::mode must be dry-run, apply or status, not 'yolo'")
    expect(r.args).toBeUndefined()
  })
})
