// The command line: help, --list, --graph, --status, strict parsing, environment
// fallbacks and exit codes (3 and 130 are proven in engine-lock and engine-signals).
import { HELP_TOPICS } from '../../lib/engine/help.ts'
import { EXIT_CODE_TABLE } from '../../lib/engine/exit-codes.ts'
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs, FLAGS } from '../../lib/engine/args.ts'
import { sandbox, runMain, runCli, readState, runIds, snapshot, applied, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

describe('exit codes of the real process', () => {
  it('0 on success, 1 when a node failed, 2 on a usage error', async () => {
    const [ok, failed, usage] = await Promise.all([
      runCli(['noop7'], sb.env),
      runCli(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true', '--state-dir', join(sb.root, 'other')], sb.env),
      runCli(['diamond', '--no-such-flag'], sb.env),
    ])
    expect(ok.code, ok.stderr).toBe(0)
    expect(failed.code, failed.stderr).toBe(1)
    expect(usage.code).toBe(2)
    expect(usage.stderr).toBe("credflow: unknown flag --no-such-flag\nRun 'npx zx tasks/run.mjs --help' for usage.\n")
    expect(usage.stdout).toBe('')
  })
})

describe('--help', () => {
  it('without a workflow: one screen (at most 40 lines of at most 80 columns) with usage, the common flags, examples, the exit codes', async () => {
    const r = await runMain(['--help'], sb.env)
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines.length).toBeLessThanOrEqual(40)
    expect(lines.filter((l) => [...l].length > 80)).toEqual([])
    expect(r.stdout).toContain('Usage: npx zx tasks/run.mjs <workflow> [flags]')
    expect(r.stdout).toMatch(/\nExamples:\n(.*\n)*  npx zx tasks\/run\.mjs gmail-reauth --dry-run\n/)
    for (const f of ['--dry-run', '--status', '--resume', '--set', '--yes', '--context', '--namespace', '--version']) expect(r.stdout, f).toContain(f)
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 failed, 2 refused \(nothing changed\), 3 locked, 4 consent\s+needed, 5 expiring, 6 drift, 130 interrupted/)
    expect((await runMain(['-h'], sb.env)).stdout).toBe(r.stdout)
  })
  it('help <topic> has the rest, every line within 80 columns: every flag with its env fallback, the exit-code table', async () => {
    const flags = await runMain(['help', 'flags'], sb.env)
    expect(flags.code).toBe(0)
    for (const f of FLAGS) {
      expect(flags.stdout, f.name).toContain(`--${f.name}`)
      if (f.env) expect(flags.stdout, f.env).toContain(`env ${f.env}`)
    }
    for (const topic of HELP_TOPICS) {
      const r = await runMain(['help', topic], sb.env)
      expect(r.code, topic).toBe(0)
      expect(r.stdout.split('\n').filter((l) => [...l].length > 80), topic).toEqual([])
    }
    const codes = (await runMain(['help', 'exit-codes'], sb.env)).stdout
    for (const [code] of EXIT_CODE_TABLE) expect(codes).toMatch(new RegExp(`^  ${code} +\\S`, 'm'))
    const bad = await runMain(['help', 'flag'], sb.env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('help flag: no such topic (topics: flags, exit-codes, env, state, cron, kubeconfig); did you mean flags?')
  })
  it('after a workflow: its params (type, default, env name) and nodes in order, without needing required params', async () => {
    const r = await runMain(['diamond', '--help'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^diamond: Test fixture, a diamond with a fan-out and a finally node\n/)
    expect(r.stdout).toContain('  dir <string> (required)\n      where the files go\n      --set dir=...  or  CREDFLOW_SET_DIR=...')
    expect(r.stdout).toContain('  targets <list> (default: ["one","two"])')
    const nodes = r.stdout.slice(r.stdout.indexOf('Nodes, in order:')).split('\n').slice(1, 7).map((l) => l.trim().split(/\s+/)[0])
    expect(nodes).toEqual(['a', 'b', 'c', 'd', 'e', 'report'])
    expect(r.stdout).toMatch(/ d +demo\/touch {2}\(after b, c\) {2}\[when \$\{\{ !params\.skipD \}\}\]/)
    expect(r.stdout).toMatch(/ e +demo\/touch {2}\(after d\) {2}\[forEach targets\]/)
    expect(r.stdout).toMatch(/ report +demo\/report {2}\[finally\]/)
  })
})

describe('messages', () => {
  it('help env names the workflow env vars', async () => {
    const r = await runMain(['help', 'env'], sb.env)
    expect(r.stdout).toContain('CREDFLOW_WORKFLOW=NAME')
    expect(r.stdout).toContain('CREDFLOW_WORKFLOWS_DIR=DIR')
  })
  it('workflow help has no blank line for a param without a description', async () => {
    const r = await runMain(['diamond', '--help'], sb.env)
    expect(r.stdout).toContain('  slowMs <number> (default: 0)\n      --set slowMs=...')
    expect(r.stdout).not.toMatch(/\n\s*\n\s+--set /)
  })
  it('a dry run says "checking", not "running"', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--dry-run'], sb.env)
    expect(r.stdout).toMatch(/Z \[a\] checking\n/)
    expect(r.stdout).not.toMatch(/\] running\n/)
  })
  it('--list of a missing workflows directory exits 2 naming it and the variable', async () => {
    const missing = join(sb.root, 'nowhere')
    const r = await runMain(['--list'], { ...sb.env, CREDFLOW_WORKFLOWS_DIR: missing })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`credflow: no workflows directory at ${missing} (from CREDFLOW_WORKFLOWS_DIR=${missing})`)
    expect(r.stdout).toBe('')
  })
})

describe('--list', () => {
  it('lists the workflows with their descriptions', async () => {
    const r = await runMain(['--list'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^ {2}diamond +Test fixture, a diamond with a fan-out and a finally node$/m)
    expect(r.stdout).toMatch(/^ {2}noop7 +Benchmark fixture, seven no-op nodes shaped like gmail-reauth$/m)
    expect(r.stdout).toMatch(/^ {2}knobs +/m)
  })
})

describe('--graph', () => {
  it('prints a Mermaid flowchart with every edge, finally nodes in a subgraph', async () => {
    const r = await runMain(['diamond', '--graph'], sb.env)
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('flowchart TD')
    expect(lines).toContain('  a["a<br/><small>first</small>"]')
    const edges = lines.filter((l) => l.includes('-->')).map((l) => l.trim())
    expect(edges.sort()).toEqual(['a --> b', 'a --> c', 'b --> d', 'c --> d', 'd --> e'])
    expect(r.stdout).toContain('  subgraph finally\n    report["report"]\n  end\n')
    expect(existsSync(sb.state)).toBe(false)
  })
})

describe('--status', () => {
  it('is read-only: shows each check and the last outcome, writes no state, changes nothing', async () => {
    const fresh = await runMain(['diamond', '--set', `dir=${sb.data}`, '--status'], sb.env)
    expect(fresh.code).toBe(0)
    expect(existsSync(sb.state)).toBe(false)
    expect(fresh.stdout).toContain('last run: none recorded in this state directory')
    expect(fresh.stdout).toMatch(/\na +✎ todo +- +.*\/a missing\n/)

    expect((await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true'], sb.env)).code).toBe(1)
    const before = { state: snapshot(sb.state), data: snapshot(sb.data) }
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--status'], sb.env)
    expect(r.code).toBe(0)
    expect({ state: snapshot(sb.state), data: snapshot(sb.data) }).toEqual(before)
    const last = readState(sb.state, 'diamond')
    expect(r.stdout).toContain(`last run ${last.runId}: failed`)
    expect(r.stdout).toMatch(/\na +✔ done +succeeded +.*\/a up to date\n/)
    expect(r.stdout).toMatch(/\nc +✎ todo +failed +.*\/c missing\n/)
    expect(applied(join(sb.data, 'c'))).toBe(1)

    const json = await runMain(['diamond', '--set', `dir=${sb.data}`, '--status', '--json'], sb.env)
    const doc = JSON.parse(json.stdout)
    expect(doc).toMatchObject({ tool: 'credflow', workflow: 'diamond', lastRun: { runId: last.runId, status: 'failed' } })
    expect(doc.nodes.find((n: { id: string }) => n.id === 'c')).toMatchObject({ state: 'todo', lastRun: { status: 'failed', error: 'c: told to fail' } })
  })
})

describe('strict argument parsing', () => {
  it('rejects unknown flags, missing values and bad values with exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['diamond', '--bogus'], 'unknown flag --bogus'],
      [['diamond', '-x'], 'unknown flag -x'],
      [['diamond', '--from'], '--from needs a value (NODE)'],
      [['diamond', '--state-dir', '--dry-run'], '--state-dir needs a value (DIR)'],
      [['diamond', '--max-parallel', '0'], '--max-parallel 0: expected a whole number from 1 to 64'],
      [['diamond', '--dry-run=maybe'], '--dry-run=maybe: expected server, client or none'],
      [['diamond', 'noop7'], 'expected one workflow name, got: diamond noop7'],
      [['diamond', '--from', 'a', '--only', 'b'], '--from and --only cannot be combined'],
      [['diamond', '--status', '--dry-run'], '--status and --dry-run cannot be combined: --status only reads (every check, no run)'],
      [['diamond', '--status', '--from', 'a'], '--status and --from cannot be combined'],
      [['diamond', '--status', '--only', 'a'], '--status and --only cannot be combined'],
      [['diamond', '--resume', '--status'], '--status and --resume cannot be combined'],
      [['diamond', '--graph', '--dry-run'], '--graph and --dry-run cannot be combined: --graph only prints the DAG'],
      [['diamond', '--list'], '--list and a workflow name (diamond) cannot be combined: --list only lists the workflows'],
      [['--list', '--status'], '--list and --status cannot be combined'],
      [['diamond', '--interactive', '--non-interactive'], '--interactive and --non-interactive cannot be combined'],
      [['diamond', '--resume', 'not-a-run'], 'expected one workflow name, got: diamond not-a-run'],
      [['nope'], 'no workflow "nope"'],
      [[], 'name a workflow (see --list)'],
    ]
    for (const [argv, msg] of cases) {
      const r = await runMain(argv, sb.env)
      expect(r.code, argv.join(' ')).toBe(2)
      expect(r.stderr, argv.join(' ')).toContain(`credflow: ${msg}`)
      expect(r.stdout).toBe('')
    }
    expect(existsSync(sb.state)).toBe(false)
  })
  it('keeps the workflow name after a boolean flag: `--dry-run diamond` is a dry run of diamond', async () => {
    expect(parseArgs(['--dry-run', 'diamond'], {})).toMatchObject({ workflow: 'diamond', dryRun: true })
    expect(parseArgs(['--resume', 'diamond'], {})).toMatchObject({ workflow: 'diamond', resume: true })
    expect(parseArgs(['--resume', '20261125T014000Z-ab12', 'diamond'], {})).toMatchObject({ workflow: 'diamond', resume: '20261125T014000Z-ab12' })
    expect(parseArgs(['--set', 'a=b=c', '--set=x=1', 'w'], {}).set).toEqual([['a', 'b=c'], ['x', '1']])
    expect(parseArgs(['--', '--weird'], {}).workflow).toBe('--weird')
    const r = await runMain(['--dry-run', 'diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Z dry run of diamond: 7 node\(s\)/)
    expect(existsSync(sb.state)).toBe(false)
  })
})

describe('environment fallbacks', () => {
  it('reads CREDFLOW_* for every flag, with the flag winning over the environment', () => {
    const env = {
      CREDFLOW_DRY_RUN: '1', CREDFLOW_JSON: 'true', CREDFLOW_MAX_PARALLEL: '2', CREDFLOW_STATE_DIR: '/s', CREDFLOW_FROM: 'b',
      CREDFLOW_YES: 'yes', CREDFLOW_NON_INTERACTIVE: 'on', CREDFLOW_FORCE: '1', CREDFLOW_WORKFLOW: 'diamond', CREDFLOW_RESUME: '1',
    }
    expect(parseArgs([], env)).toMatchObject({ workflow: 'diamond', dryRun: true, json: true, maxParallel: 2, stateDir: '/s', from: 'b', yes: true, nonInteractive: true, force: true, resume: true })
    expect(parseArgs(['--dry-run=false', '--max-parallel', '3', 'noop7'], env)).toMatchObject({ workflow: 'noop7', dryRun: false, maxParallel: 3 })
    expect(parseArgs([], { CREDFLOW_DRY_RUN: '0' }).dryRun).toBe(false)
    expect(() => parseArgs([], { CREDFLOW_DRY_RUN: 'maybe' })).toThrow('CREDFLOW_DRY_RUN=maybe: expected 1/true/yes or 0/false/no')
    expect(() => parseArgs([], { CREDFLOW_MAX_PARALLEL: 'lots' })).toThrow('CREDFLOW_MAX_PARALLEL=lots: expected a whole number from 1 to 64')
    expect(() => parseArgs([], { CREDFLOW_RESUME: 'bogus' })).toThrow('CREDFLOW_RESUME=bogus: expected a run id (like 20261125T014000Z-ab12), or 1/true/yes or 0/false/no')
    expect(() => parseArgs(['--resume=bogus'], {})).toThrow('--resume=bogus: expected a run id')
    expect(parseArgs([], { CREDFLOW_RESUME: '20261125T014000Z-ab12' }).resume).toBe('20261125T014000Z-ab12')
    // A conflict names the side that came from the environment as the variable it came from.
    expect(() => parseArgs(['--dry-run', 'diamond'], { CREDFLOW_STATUS: '1' })).toThrow('CREDFLOW_STATUS=1 and --dry-run cannot be combined')
  })
  it('CREDFLOW_DRY_RUN=1 makes a real dry run; CREDFLOW_SET_<PARAM> sets params', async () => {
    const r = await runMain(['diamond'], { ...sb.env, CREDFLOW_DRY_RUN: '1', CREDFLOW_SET_DIR: sb.data, CREDFLOW_SET_SKIPD: 'true' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('dry run of diamond')
    expect(r.stdout).toMatch(/\[d\] skipped: when/)
    expect(existsSync(sb.state)).toBe(false)
    expect(existsSync(join(sb.data, 'a'))).toBe(false)
  })
  it('--set wins over CREDFLOW_SET_<PARAM>; CREDFLOW_STATE_DIR and --state-dir choose where runs go', async () => {
    const other = join(sb.root, 'flag-state')
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--state-dir', other], { ...sb.env, CREDFLOW_SET_DIR: '/nonexistent' })
    expect(r.code, r.stdout).toBe(0)
    expect(runIds(other, 'diamond')).toHaveLength(1)
    expect(existsSync(sb.state)).toBe(false)
    expect(readState(other, 'diamond').params.dir).toBe(sb.data)
  })
  it('CREDFLOW_MAX_PARALLEL bounds concurrency like the flag', async () => {
    writeFileSync(join(sb.data, 'x'), '') // unrelated file, untouched
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=150'], { ...sb.env, CREDFLOW_MAX_PARALLEL: '1' })
    expect(r.code).toBe(0)
    const s = readState(sb.state, 'diamond')
    const [b, c] = [s.nodes.b, s.nodes.c].map((n) => [Date.parse(n.startedAt!), Date.parse(n.finishedAt!)])
    expect(b[0] >= c[1] || c[0] >= b[1], JSON.stringify({ b, c })).toBe(true)
  })
})
