// Flags and verbs as kubectl users type them: --version, -o json|yaml|wide, --dry-run=server,
// --context/--kubeconfig, -n, "did you mean", runs/log (rollout history), --graph=tree.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { parseArgs } from '../../lib/engine/args.ts'
import { sandbox, privateWorkflows, runMain, readState, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

describe('kubectl habits', () => {
  it('--version names this checkout and Node', async () => {
    const r = await runMain(['--version'], sb.env)
    expect(r.code).toBe(0)
    // In-process, from the sources; tasks/run.mjs runs the pre-built engine (engine-bundle.test.ts).
    expect(r.stdout).toMatch(/^credflow \d+\.\d+\.\d+ \(node \d+\.\d+\.\d+; engine: TypeScript sources\)\n$/)
  })
  it('unknown flags, workflows and -o formats get "did you mean"', async () => {
    expect((await runMain(['diamond', '--dry-rn'], sb.env)).stderr).toContain('unknown flag --dry-rn; did you mean --dry-run?')
    expect((await runMain(['diamond', '--stauts'], sb.env)).stderr).toContain('unknown flag --stauts; did you mean --status?')
    const wf = await runMain(['diamnod'], sb.env)
    expect(wf.code).toBe(2)
    expect(wf.stderr).toContain('no workflow "diamnod"')
    expect(wf.stderr).toContain('did you mean diamond?')
    expect((await runMain(['diamond', '-o', 'jsno'], sb.env)).stderr).toContain('-o jsno: expected json, yaml or wide; did you mean json?')
    expect((await runMain(['diamond', '--frobnicate'], sb.env)).stderr).not.toContain('did you mean')
  })
  it('--dry-run=server and =client are dry runs, =none is not (as in kubectl); --dry-run=maybe is refused with the values kubectl takes', () => {
    expect(parseArgs(['x', '--dry-run=server']).dryRun).toBe(true)
    expect(parseArgs(['x', '--dry-run=client']).dryRun).toBe(true)
    expect(parseArgs(['x', '--dry-run=none']).dryRun).toBe(false)
    expect(parseArgs(['x', '--dry-run=false']).dryRun).toBe(false)
    expect(() => parseArgs(['x', '--dry-run=maybe'])).toThrow('--dry-run=maybe: expected server, client or none')
  })
  it('--context and --kubeconfig are the params of those names, after any --set', () => {
    const a = parseArgs(['gmail-reauth', '--set', 'context=a', '--context', 'prod@pal-e', '--kubeconfig=/k'])
    expect(a.set).toEqual([['context', 'a'], ['context', 'prod@pal-e'], ['kubeconfig', '/k']])
  })
  it('-o json and -o yaml print the same document; -o yaml is YAML', async () => {
    const json = await runMain(['diamond', '--set', `dir=${sb.data}`, '--dry-run', '-o', 'json'], sb.env)
    const yaml = await runMain(['diamond', '--set', `dir=${sb.data}`, '--dry-run', '-o', 'yaml'], sb.env)
    expect(json.code).toBe(0)
    expect(yaml.stdout).not.toMatch(/^\{/)
    const strip = (d: { nodes: Array<Record<string, unknown>> }) => ({ ...d, nodes: d.nodes.map(({ durationMs, reason, ...n }) => n) })
    expect(strip(parseYaml(yaml.stdout))).toEqual(strip(JSON.parse(json.stdout)))
  })
  it('-n NS runs only the targets in that namespace, and names the namespaces when none is', async () => {
    const wf = privateWorkflows(sb.root, {
      'spread.yaml': `version: 1
name: spread
description: one file per target
params:
  dir: { type: string, required: true }
  targets: { type: list, default: [{ namespace: a, name: one }, { namespace: b, name: two }] }
nodes:
  write:
    run: demo/touch
    forEach: { param: targets, key: namespace }
    with: { file: "\${{ params.dir }}/\${{ item.name }}" }
`,
    })
    const env = { ...sb.env, CREDFLOW_WORKFLOWS_DIR: wf }
    const r = await runMain(['spread', '--set', `dir=${sb.data}`, '-n', 'b'], env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(Object.keys(readState(sb.state, 'spread').nodes)).toEqual(['write[b]'])
    const none = await runMain(['spread', '--set', `dir=${sb.data}`, '--namespace', 'c'], env)
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('-n c: no target of spread is in namespace c (namespaces: a, b)')
    expect((await runMain(['diamond', '--set', `dir=${sb.data}`, '-n', 'x'], sb.env)).stderr).toContain('diamond has no targets with a namespace')
  })
})

describe('runs and log: the record of past runs', () => {
  it('runs lists them newest first with status and what changed; log prints a run\'s transcript', async () => {
    expect((await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true'], sb.env)).code).toBe(1)
    expect((await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)).code).toBe(0)
    const runs = await runMain(['runs', 'diamond'], sb.env)
    expect(runs.code).toBe(0)
    const rows = runs.stdout.split('\n').slice(1, 3)
    expect(rows[0]).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4} +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +succeeded +\S+ +\S+ +4 write$/) // c, d, e[one], e[two]: a and b were done
    expect(rows[1]).toMatch(/ failed +\S+ +\S+ +2 write$/)
    const newest = rows[0].split(' ')[0]
    const log = await runMain(['log', 'diamond'], sb.env)
    expect(log.stdout).toBe(readFileSync(join(sb.state, 'diamond', 'runs', newest, 'transcript.txt'), 'utf8'))
    expect(log.stdout).toMatch(/\[c\] changed: write \S+\/c \(2 bytes\)\n/)
    expect(log.stdout).toContain(`Verdict: succeeded (exit 0), run ${newest}`)
    expect(log.stdout).not.toMatch(/\x1b\[/)
    const bad = await runMain(['log', 'diamond', '20200101T000000Z-0000'], sb.env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('no such run')
  })
})

describe('--graph=tree', () => {
  it('draws each node under its first need, names a join again, and lists finally nodes', async () => {
    const r = await runMain(['diamond', '--graph=tree'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`a  first
├─ b  demo/touch
│  └─ d  demo/touch  (after b, c)
│     └─ e  demo/touch
└─ c  demo/touch
   └─ → d (above)

finally (always, after the rest): report
`)
  })
})
