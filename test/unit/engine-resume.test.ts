// Resuming a run: --resume, --from, --only, and the refusal when the setup changed.
// diamond with failB=3: b fails all three attempts, d and e are blocked; a resume (same
// params) reruns b, whose fourth attempt succeeds.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeDrift } from '../../lib/engine/resume.ts'
import type { RunState } from '../../lib/engine/state.ts'
import { sandbox, privateWorkflows, runMain, readState, readEvents, runIds, applied, WORKFLOWS, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const diamond = (env: NodeJS.ProcessEnv, ...args: string[]) => runMain(['diamond', '--set', `dir=${sb.data}`, ...args], env)
const f = (name: string) => join(sb.data, name)

describe('--resume', () => {
  it('keeps succeeded nodes and reruns failed and blocked ones, in the same run', async () => {
    expect((await diamond(sb.env, '--set', 'failB=3')).code).toBe(1)
    const first = readState(sb.state, 'diamond')
    expect(first.nodes.b).toMatchObject({ status: 'failed', attempts: 3 })
    expect(first.nodes.d.status).toBe('blocked')

    const r = await diamond(sb.env, '--set', 'failB=3', '--resume')
    expect(r.code, r.stdout).toBe(0)
    expect(runIds(sb.state, 'diamond')).toEqual([first.runId])
    const s = readState(sb.state, 'diamond')
    expect(s).toMatchObject({ status: 'succeeded', resumes: 1, runId: first.runId })
    // Kept: not checked, not applied again, outputs carried over.
    for (const id of ['a', 'c']) {
      expect(s.nodes[id]).toMatchObject({ status: 'succeeded', reason: `kept from run ${first.runId}`, outputs: first.nodes[id].outputs })
      expect(applied(f(id)), id).toBe(1)
    }
    // Rerun: b's fourth apply succeeds; attempts keep counting across the resume.
    expect(s.nodes.b).toMatchObject({ status: 'succeeded', attempts: 4 })
    expect(applied(f('b'))).toBe(4)
    for (const id of ['d', 'e[one]', 'e[two]']) expect(s.nodes[id].status, id).toBe('succeeded')
    expect(readEvents(sb.state, 'diamond', first.runId).filter((e) => e.type === 'run-start').map((e) => e.mode)).toEqual(['fresh', 'resume'])
    expect(r.stdout).toContain(`resuming ${first.runId}`)
  })
  it('starts each rerun node with check: a node whose work is already done is cached, not applied', async () => {
    expect((await diamond(sb.env, '--set', 'failB=3')).code).toBe(1)
    writeFileSync(f('b'), 'ok') // someone fixed b by hand
    const r = await diamond(sb.env, '--set', 'failB=3', '--resume')
    expect(r.code).toBe(0)
    const s = readState(sb.state, 'diamond')
    expect(s.nodes.b).toMatchObject({ status: 'cached', reason: `${f('b')} up to date`, outputs: { file: f('b'), length: 2 } })
    expect(applied(f('b'))).toBe(3)
    expect(s.nodes.d.status).toBe('succeeded')
  })
  it('says so and starts a new run when there is nothing to resume', async () => {
    const r = await diamond(sb.env, '--resume')
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('nothing to resume: no run of diamond')
    expect(runIds(sb.state, 'diamond')).toHaveLength(1)
  })
  it('does not resume an older failed run once a newer run succeeded', async () => {
    expect((await diamond(sb.env, '--set', 'failB=3')).code).toBe(1) // older run: failed
    expect((await diamond(sb.env)).code).toBe(0) // newer run: b's attempts are used up, so it succeeds
    const r = await diamond(sb.env, '--resume')
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/nothing to resume: the latest run \S+ succeeded; starting a new run/)
    expect(runIds(sb.state, 'diamond')).toHaveLength(3)
  })
  it('continues the run that failed last even when this host clock jumped back since an earlier run', async () => {
    expect((await diamond(sb.env)).code).toBe(0)
    const [ok] = runIds(sb.state, 'diamond')
    // The earlier run was recorded while the clock ran an hour ahead; NTP has corrected it since.
    const file = join(sb.state, 'diamond', 'runs', ok, 'state.json')
    const early = JSON.parse(readFileSync(file, 'utf8')) as RunState
    writeFileSync(file, JSON.stringify({ ...early, startedAt: new Date(Date.now() + 3_600_000).toISOString() }))
    const again = (...args: string[]) => runMain(['diamond', '--set', `dir=${join(sb.data, 'again')}`, '--set', 'failB=3', ...args], sb.env)
    mkdirSync(join(sb.data, 'again'))
    expect((await again()).code).toBe(1)
    const failed = runIds(sb.state, 'diamond').find((id) => id !== ok)!
    expect(readState(sb.state, 'diamond', failed).seq).toBe(early.seq! + 1)
    const r = await again('--resume')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`resuming ${failed}`)
    expect(runIds(sb.state, 'diamond')).toHaveLength(2)
  })
  it('resumes a named run id and rejects an unknown one', async () => {
    expect((await diamond(sb.env, '--set', 'failB=3')).code).toBe(1)
    const [id] = runIds(sb.state, 'diamond')
    expect((await diamond(sb.env, '--set', 'failB=3', '--resume', id)).code).toBe(0)
    expect(readState(sb.state, 'diamond', id).status).toBe('succeeded')
    const r = await diamond(sb.env, '--resume', '20200101T000000Z-abcd')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`--resume 20200101T000000Z-abcd: not a known run id of diamond in ${join(sb.state, 'diamond')}; recent runs, newest first: ${id}`)
    const short = await diamond(sb.env, '--resume', '2020')
    expect(short.code).toBe(2)
    expect(short.stderr).toContain(`credflow: --resume 2020: not a known run id of diamond in ${join(sb.state, 'diamond')}; recent runs, newest first: ${id}`)
  })
})

describe('--from <node>', () => {
  it('reruns the node and its descendants (each starting with check), keeps the rest', async () => {
    expect((await diamond(sb.env)).code).toBe(0)
    const first = readState(sb.state, 'diamond')
    rmSync(f('b'))
    rmSync(f('d'))
    const r = await diamond(sb.env, '--from', 'b')
    expect(r.code, r.stdout).toBe(0)
    const s = readState(sb.state, 'diamond')
    expect(s.runId).toBe(first.runId)
    for (const id of ['a', 'c']) {
      expect(s.nodes[id].reason, id).toBe(`kept from run ${first.runId}`)
      expect(applied(f(id)), id).toBe(1)
    }
    expect(s.nodes.b.status).toBe('succeeded')
    expect(applied(f('b'))).toBe(2)
    expect(s.nodes.d.status).toBe('succeeded')
    expect(applied(f('d'))).toBe(2)
    // Descendants whose world is already right: check says done.
    expect(s.nodes['e[one]'].status).toBe('cached')
    expect(applied(f('e-one'))).toBe(1)
  })
  it('rejects a node that does not exist', async () => {
    const r = await diamond(sb.env, '--from', 'zz')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--from zz: no such node (nodes: a, b, c, d, e, report; instances: e[one], e[two])')
  })
})

describe('--only <node>', () => {
  it('runs one node with the upstream outputs stored by the last run, touching nothing else', async () => {
    expect((await diamond(sb.env)).code).toBe(0)
    const runFile = join(sb.state, 'diamond', 'runs', runIds(sb.state, 'diamond')[0], 'state.json')
    // Doctor b's stored output: d's content must come from the state, not from running b.
    const doc = JSON.parse(readFileSync(runFile, 'utf8'))
    doc.nodes.b.outputs.file = '/stored/by/the/last/run'
    writeFileSync(runFile, JSON.stringify(doc))
    rmSync(f('d'))
    const reportMtime = statSync(f('report.json')).mtimeMs

    const r = await diamond(sb.env, '--only', 'd')
    expect(r.code, r.stdout).toBe(0)
    expect(readFileSync(f('d'), 'utf8')).toBe('from /stored/by/the/last/run')
    for (const id of ['a', 'b', 'c', 'e-one', 'e-two']) expect(applied(f(id)), id).toBe(1)
    expect(applied(f('d'))).toBe(2)
    expect(statSync(f('report.json')).mtimeMs).toBe(reportMtime)
    const s = readState(sb.state, 'diamond')
    expect(s.nodes.d.status).toBe('succeeded')
    expect(s.nodes.b.outputs).toEqual({ file: '/stored/by/the/last/run', length: 2 })
    const ev = readEvents(sb.state, 'diamond', s.runId)
    const lastStart = ev.map((e) => e.type).lastIndexOf('run-start')
    expect(ev[lastStart]).toMatchObject({ mode: 'only' })
    const ran = ev.slice(lastStart).filter((e) => e.status === 'running').map((e) => e.node)
    expect(ran).toEqual(['d'])
  })
})

describe('continuing a run reuses its params', () => {
  it('needs no --set again: --resume alone continues with what the run recorded', async () => {
    expect((await diamond(sb.env, '--set', 'failB=3')).code).toBe(1)
    const r = await runMain(['diamond', '--resume'], sb.env) // neither dir (required) nor failB given
    expect(r.code, r.stderr).toBe(0)
    expect(readState(sb.state, 'diamond')).toMatchObject({ status: 'succeeded', params: { dir: sb.data, failB: 3 } })
  })
})

describe('--only after a failed run', () => {
  it('exits 0 for the node it ran, keeps the run failed, and --resume finishes the rest', async () => {
    expect((await diamond(sb.env, '--set', 'failB=3')).code).toBe(1) // b fails 3 times; d, e blocked
    const only = await diamond(sb.env, '--set', 'failB=3', '--only', 'b') // b's 4th attempt succeeds
    expect(only.code).toBe(0)
    expect(only.stdout).toMatch(/next: the nodes run now succeeded; the rest of the run needs .*npx zx tasks\/run\.mjs diamond --state-dir \S+ --resume$/m)
    const s = readState(sb.state, 'diamond')
    expect(s.nodes.b.status).toBe('succeeded')
    expect(s.nodes.d.status).toBe('blocked')
    expect(s.status).toBe('failed')
    const rest = await diamond(sb.env, '--set', 'failB=3', '--resume')
    expect(rest.code).toBe(0)
    expect(readState(sb.state, 'diamond').status).toBe('succeeded')
  })
})

describe('resume refuses when the setup changed', () => {
  let env: NodeJS.ProcessEnv
  let wfFile: string
  beforeEach(() => {
    const dir = privateWorkflows(sb.root, { 'diamond.yaml': readFileSync(join(WORKFLOWS, 'diamond.yaml'), 'utf8') })
    wfFile = join(dir, 'diamond.yaml')
    env = { ...sb.env, CREDFLOW_WORKFLOWS_DIR: dir }
  })
  it('exits 2 naming the nodes whose definition changed, and continues with --force', async () => {
    expect((await diamond(env, '--set', 'failB=3')).code).toBe(1)
    const before = readFileSync(join(sb.state, 'diamond', 'runs', runIds(sb.state, 'diamond')[0], 'state.json'), 'utf8')
    writeFileSync(wfFile, readFileSync(wfFile, 'utf8').replace('backoff: 50ms', 'backoff: 60ms'))
    const r = await diamond(env, '--set', 'failB=3', '--resume')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/refusing to continue run \S+: it was recorded with a different setup:\n {2}workflow file changed \(sha256:\S+ -> sha256:\S+\): nodes changed: b\n/)
    expect(r.stderr).toContain('pass --force')
    expect(readFileSync(join(sb.state, 'diamond', 'runs', runIds(sb.state, 'diamond')[0], 'state.json'), 'utf8')).toBe(before)
    expect(applied(f('b'))).toBe(3)

    const forced = await diamond(env, '--set', 'failB=3', '--resume', '--force')
    expect(forced.code).toBe(0)
    expect(readState(sb.state, 'diamond').status).toBe('succeeded')
  })
  it('names added and removed nodes and changed param definitions, never whole files', async () => {
    expect((await diamond(env, '--set', 'failB=3')).code).toBe(1)
    const text = readFileSync(wfFile, 'utf8')
      .replace('slowMs: { type: number, default: 0 }', 'slowMs: { type: number, default: 5 }')
      .replace('finally:\n  report:', 'finally:\n  summary:')
      .replace('  e:\n', '  f:\n    run: demo/touch\n    with: { file: /tmp/f }\n  e:\n')
    writeFileSync(wfFile, text)
    const r = await diamond(env, '--set', 'failB=3', '--resume')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(': nodes added: f, summary; nodes removed: report; param definitions changed: slowMs\n')
  })
  it('goes on, and says so, when only comments or layout changed', async () => {
    expect((await diamond(env, '--set', 'failB=3')).code).toBe(1)
    const [id] = runIds(sb.state, 'diamond')
    appendFileSync(wfFile, '# edited\n')
    writeFileSync(wfFile, readFileSync(wfFile, 'utf8').replace('    retry: { attempts: 3, backoff: 50ms }', '    retry:\n      backoff: "50ms"\n      attempts: 3'))
    const r = await diamond(env, '--set', 'failB=3', '--resume')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`the workflow file changed only in comments or layout since run ${id} (every node and param is defined as before): continuing`)
    expect(readState(sb.state, 'diamond')).toMatchObject({ runId: id, status: 'succeeded' })
  })
  it('says plainly that it cannot tell what changed for a run recorded without per-node hashes', async () => {
    expect((await diamond(env, '--set', 'failB=3')).code).toBe(1)
    const file = join(sb.state, 'diamond', 'runs', runIds(sb.state, 'diamond')[0], 'state.json')
    const old = JSON.parse(readFileSync(file, 'utf8'))
    delete old.definition
    writeFileSync(file, JSON.stringify(old))
    appendFileSync(wfFile, '# edited\n')
    const r = await diamond(env, '--set', 'failB=3', '--resume')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('; the run was recorded without per-node hashes, so what changed cannot be told')
    expect((await diamond(env, '--set', 'failB=3', '--resume', '--force')).code).toBe(0)
  })
  it('exits 2 naming each changed param with its old and new value', async () => {
    expect((await diamond(env, '--set', 'failB=3')).code).toBe(1)
    const r = await diamond(env, '--set', 'failB=0', '--set', 'skipD=true', '--resume')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('param failB: 3 -> 0')
    expect(r.stderr).toContain('param skipD: false -> true')
    expect(r.stderr).not.toContain('workflow file changed')
    for (const mode of [['--from', 'b'], ['--only', 'b']]) {
      const again = await diamond(env, '--set', 'failB=0', ...mode)
      expect(again.code, mode.join(' ')).toBe(2)
      expect(again.stderr).toContain('param failB: 3 -> 0')
    }
  })
})

describe('--only and --from without an earlier run', () => {
  it('--only of a node with upstream nodes is a usage error naming what it needs and how to get it; nothing is recorded', async () => {
    const r = await diamond(sb.env, '--only', 'd')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`credflow: --only d runs one node with the outputs that b, c stored in an earlier run, and there is no run of diamond in ${join(sb.state, 'diamond')}.`)
    expect(r.stderr).toMatch(/Run the whole workflow first: .*npx zx tasks\/run\.mjs diamond --state-dir \S+ --set dir=\S+ {2}\(see its plan first with --dry-run\)/)
    expect(runIds(sb.state, 'diamond')).toEqual([])
    expect(applied(f('d'))).toBe(0)
  })
  it('--only of a node without upstream nodes just runs it', async () => {
    const r = await diamond(sb.env, '--only', 'a')
    expect(r.code, r.stdout).toBe(0)
    expect(applied(f('a'))).toBe(1)
    expect(applied(f('b'))).toBe(0)
  })
  it('--from says that it starts a full run, and runs every node', async () => {
    const r = await diamond(sb.env, '--from', 'd')
    expect(r.code, r.stdout).toBe(0)
    expect(r.stderr).toContain(`credflow: --from d: no earlier run of diamond in ${join(sb.state, 'diamond')}, so this is a full run`)
    expect(readState(sb.state, 'diamond').status).toBe('succeeded')
    expect(applied(f('a'))).toBe(1)
  })
})

describe('--only and --from accept a forEach instance id as shown in state and display', () => {
  it('--only e[one] reruns that instance and not its sibling', async () => {
    expect((await diamond(sb.env)).code).toBe(0)
    rmSync(f('e-one'))
    rmSync(f('e-two'))
    const r = await diamond(sb.env, '--only', 'e[one]')
    expect(r.code, r.stdout).toBe(0)
    expect(applied(f('e-one'))).toBe(2)
    expect(applied(f('e-two'))).toBe(1)
    expect(readState(sb.state, 'diamond').status).toBe('succeeded') // e[two] is still recorded as succeeded
  })
  it('--from e[two] reruns that instance (its check finds the file missing) and keeps e[one]', async () => {
    expect((await diamond(sb.env)).code).toBe(0)
    rmSync(f('e-two'))
    const r = await diamond(sb.env, '--from', 'e[two]')
    expect(r.code, r.stdout).toBe(0)
    expect(applied(f('e-two'))).toBe(2)
    expect(readState(sb.state, 'diamond').nodes['e[one]'].reason).toMatch(/^kept from run /)
  })
  it('lists the instance ids when the name matches nothing', async () => {
    expect((await diamond(sb.env)).code).toBe(0)
    const r = await diamond(sb.env, '--only', 'e[three]')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--only e[three]: no such node (nodes: a, b, c, d, e, report; instances: e[one], e[two])')
  })
})

describe('describeDrift', () => {
  it('names a changed secret param without either value', () => {
    const def = { nodes: {}, params: {}, header: 'h' }
    const prev = { workflowHash: 'sha256:x', definition: def, params: { token: 'sha256:aaaa', user: 'me' }, runId: 'r' } as unknown as RunState
    const d = describeDrift(prev, { hash: 'sha256:x', definition: def }, { token: 'sha256:bbbb', user: 'me' }, (k) => k === 'token')
    expect(d).toEqual({ changes: ['param token changed (secret: values not shown)'], cosmetic: undefined })
  })
})
