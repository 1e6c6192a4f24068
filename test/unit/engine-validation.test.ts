// Workflow validation: every problem is reported as file:line:col, the YAML path and a
// message, and the CLI exits 2 before running anything.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { sandbox, privateWorkflows, runMain, runCli, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
let wfDir: string
let env: NodeJS.ProcessEnv

const HEAD = `version: 1
description: validation fixture
`

// Each workflow is a line-numbered text so positions below can be checked by eye.
const FILES: Record<string, string> = {
  'syntax.yaml': [
    'version: 1', //                    1
    'name: syntax', //                  2
    'description: x', //                3
    'nodes:', //                        4
    '  a: { run: demo/touch', //        5
    '  b: [', //                        6
    '',
  ].join('\n'),
  'unknown-key.yaml': [
    'version: 1', //                    1
    'name: unknown-key', //             2
    'description: x', //                3
    'nodes:', //                        4
    '  a:', //                          5
    '    run: demo/touch', //           6
    '    needz: [b]', //                7
    '    with: { file: /tmp/x }', //    8
    '',
  ].join('\n'),
  'unknown-needs.yaml': `${HEAD}name: unknown-needs
nodes:
  a:
    run: demo/touch
    with: { file: /tmp/x }
  b:
    run: demo/touch
    needs: [a, nope]
    with: { file: /tmp/y }
`,
  'cycle.yaml': `${HEAD}name: cycle
nodes:
  a:
    run: demo/touch
    needs: [c]
  b:
    run: demo/touch
    needs: [a]
  c:
    run: demo/touch
    needs: [b]
  free:
    run: demo/touch
`,
  'unknown-task.yaml': `${HEAD}name: unknown-task
nodes:
  a:
    run: demo/does-not-exist
`,
  'unknown-param.yaml': `${HEAD}name: unknown-param
params:
  dir: { type: string, default: /tmp }
nodes:
  a:
    run: demo/touch
    with: { file: "\${{ params.dri }}/a" }
`,
  'bad-template.yaml': `${HEAD}name: bad-template
params:
  dir: { type: string, default: /tmp }
nodes:
  unclosed:
    run: demo/touch
    with: { file: "\${{ params.dir" }
  badref:
    run: demo/touch
    with: { file: "\${{ env.HOME }}" }
  notneeded:
    run: demo/touch
    with: { file: "\${{ needs.unclosed.outputs.file }}" }
  badwhen:
    run: demo/touch
    when: "\${{ params.dir == }}"
    with: { file: x }
`,
  'bad-default.yaml': `${HEAD}name: bad-default
params:
  count: { type: number, default: "three" }
  wait: { type: duration, default: soon }
nodes:
  a:
    run: demo/touch
    with: { file: /tmp/x }
`,
  'foreach-scalar.yaml': `${HEAD}name: foreach-scalar
params:
  target: { type: string, default: one }
nodes:
  a:
    run: demo/touch
    forEach: target
    with: { file: "/tmp/\${{ item }}" }
`,
  'all-at-once.yaml': [
    'version: 1', //                                   1
    'name: all-at-once', //                            2
    'description: x', //                               3
    'params:', //                                      4
    '  bad_name: { type: string }', //                 5
    '  dir: { type: strin }', //                       6
    'nodes:', //                                       7
    '  B_x:', //                                       8
    '    run: demo/touch', //                          9
    '  typo:', //                                      10
    '    run: demo/touch', //                          11
    '    needz: [a]', //                               12
    '  a:', //                                         13
    '    run: demo/nope', //                           14
    '    needs: [typo, ghost]', //                     15
    '    with: { file: "${{ params.nope }}/a" }', //   16
    '',
  ].join('\n'),
  'bad-inputs.yaml': [
    'version: 1', //                                                        1
    'name: bad-inputs', //                                                  2
    'description: x', //                                                    3
    'params:', //                                                           4
    '  wait: { type: string, default: soon }', //                          5
    'nodes:', //                                                            6
    '  a:', //                                                              7
    '    run: demo/touch', //                                               8
    '    with:', //                                                         9
    '      file: /tmp/x', //                                                10
    '      contnet: hi', //                                                 11
    '      sleepMs: soon', //                                               12
    '      failTimes: "${{ params.wait }}"', //                             13
    '  b:', //                                                              14
    '    run: demo/touch', //                                               15
    '    with: { content: ok }', //                                         16
    '',
  ].join('\n'),
  'good.yaml': `${HEAD}name: good
params:
  dir: { type: string, required: true }
  count: { type: number, default: 1 }
  flag: { type: boolean, default: false }
  items: { type: list, default: [a] }
nodes:
  a:
    run: demo/touch
    with: { file: "\${{ params.dir }}/a" }
`,
}

beforeAll(() => {
  sb = sandbox()
  wfDir = privateWorkflows(sb.root, FILES)
  env = { ...sb.env, CREDFLOW_WORKFLOWS_DIR: wfDir }
})
afterAll(() => sb.cleanup())

/** Runs a workflow that must be rejected; returns the problem lines. */
async function rejected(name: string, extra: string[] = []): Promise<string[]> {
  const r = await runMain([name, ...extra], env)
  expect(r.code, r.stderr).toBe(2)
  expect(r.stdout).toBe('')
  expect(existsSync(sb.state)).toBe(false)
  expect(r.stderr).toMatch(/^credflow: invalid workflow:\n/)
  expect(r.stderr).toMatch(/\nhint: fix each problem at the position shown \(file:line:col\), then run again\n$/)
  return r.stderr.split('\n').slice(1, -2).filter(Boolean)
}

// The CLI shows the file relative to the working directory when it is below it, else absolute.
const file = (name: string) => {
  const rel = relative(process.cwd(), join(wfDir, name))
  return rel.startsWith('..') ? join(wfDir, name) : rel
}
/** A problem line: `<path to file>:line:col: <yaml path>: <message>`. */
function problem(lines: string[], name: string, line: number, col: number, path: string, message: string | RegExp): void {
  const prefix = `${file(name)}:${line}:${col}: ${path ? path + ': ' : ''}`
  const hit = lines.find((l) => l.startsWith(prefix))
  expect(hit, `no "${prefix}" in:\n${lines.join('\n')}`).toBeDefined()
  const msg = hit!.slice(prefix.length)
  if (typeof message === 'string') expect(msg).toBe(message)
  else expect(msg).toMatch(message)
}

describe('YAML syntax errors', () => {
  it('reports each at the line and column where the parser found it', async () => {
    const lines = await rejected('syntax')
    expect(lines).toHaveLength(2)
    // The unclosed map on line 5 is noticed where the next key starts; the sequence at the end of input.
    problem(lines, 'syntax.yaml', 6, 3, '', /^YAML syntax: Flow map .* end with a \}$/)
    problem(lines, 'syntax.yaml', 7, 1, '', /^YAML syntax: Flow sequence .* end with a \]$/)
  })
})

describe('one pass', () => {
  it('reports schema errors and the semantic errors of the nodes that parsed together, ids with what they may hold', async () => {
    const lines = await rejected('all-at-once')
    problem(lines, 'all-at-once.yaml', 5, 3, 'params.bad_name', '"bad_name" is not a valid param name: param names are camelCase identifiers')
    problem(lines, 'all-at-once.yaml', 6, 16, 'params.dir.type', /^Invalid option: expected one of "string"\|/)
    problem(lines, 'all-at-once.yaml', 8, 3, 'nodes.B_x', '"B_x" is not a valid node id: must be lower-case letters, digits and dashes, starting with a letter')
    problem(lines, 'all-at-once.yaml', 12, 5, 'nodes.typo.needz', 'unknown key "needz"')
    problem(lines, 'all-at-once.yaml', 14, 10, 'nodes.a.run', 'unknown task "demo/nope": no file tasks/demo/nope.ts')
    problem(lines, 'all-at-once.yaml', 15, 19, 'nodes.a.needs.1', 'unknown node "ghost"')
    problem(lines, 'all-at-once.yaml', 16, 19, 'nodes.a.with.file', 'unknown param "nope" (declared: bad_name, dir)')
    expect(lines).toHaveLength(7) // "typo" failed the schema but exists: needing it is no error
  })
})

describe("a node's with: against its step's inputs", () => {
  it('reports unknown inputs (listing the valid ones), literal values of the wrong type and missing inputs, before anything runs', async () => {
    const lines = await rejected('bad-inputs', ['--dry-run'])
    problem(lines, 'bad-inputs.yaml', 11, 7, 'nodes.a.with.contnet', 'unknown input "contnet" of task demo/touch (its inputs: file, content, sleepMs, sleepOutsideSlot, failTimes, fatal, trace)')
    problem(lines, 'bad-inputs.yaml', 12, 16, 'nodes.a.with.sleepMs', 'input "sleepMs" of task demo/touch: Invalid input: expected number, received string')
    problem(lines, 'bad-inputs.yaml', 16, 11, 'nodes.b.with', 'task demo/touch needs input "file"')
    // A templated value is checked once resolved, at run time.
    expect(lines).toHaveLength(3)
  })
  it('is not needed for --help and --graph, which import no step', async () => {
    expect((await runMain(['bad-inputs', '--help'], env)).code).toBe(0)
    expect((await runMain(['bad-inputs', '--graph'], env)).code).toBe(0)
  })
})

describe('unknown keys', () => {
  it('points at the key itself', async () => {
    const lines = await rejected('unknown-key')
    expect(lines).toEqual([`${file('unknown-key.yaml')}:7:5: nodes.a.needz: unknown key "needz"`])
  })
})

describe('unknown needs', () => {
  it('points at the list entry', async () => {
    const lines = await rejected('unknown-needs')
    problem(lines, 'unknown-needs.yaml', 10, 16, 'nodes.b.needs.1', 'unknown node "nope"')
    expect(lines).toHaveLength(1)
  })
})

describe('cycles', () => {
  it('prints the cycle as a path that returns to its start', async () => {
    const lines = await rejected('cycle')
    expect(lines).toHaveLength(1)
    problem(lines, 'cycle.yaml', 7, 12, 'nodes.a.needs', 'cycle: a -> c -> b -> a')
  })
})

describe('unknown task ids', () => {
  it('names the missing tasks/<id>.ts', async () => {
    const lines = await rejected('unknown-task')
    expect(lines).toEqual([`${file('unknown-task.yaml')}:6:10: nodes.a.run: unknown task "demo/does-not-exist": no file tasks/demo/does-not-exist.ts`])
  })
})

describe('unknown params in templates', () => {
  it('names the param and lists the declared ones', async () => {
    const lines = await rejected('unknown-param')
    expect(lines).toEqual([`${file('unknown-param.yaml')}:9:19: nodes.a.with.file: unknown param "dri" (declared: dir)`])
  })
})

describe('bad templates', () => {
  it('reports unclosed, unknown roots, outputs of non-needs and bad `when` expressions, all at once', async () => {
    const lines = await rejected('bad-template')
    problem(lines, 'bad-template.yaml', 9, 19, 'nodes.unclosed.with.file', 'bad template: unclosed "${{" in "${{ params.dir"')
    problem(lines, 'bad-template.yaml', 12, 19, 'nodes.badref.with.file', /^bad template: "env\.HOME": references start with params\., needs\. or item$/)
    problem(lines, 'bad-template.yaml', 15, 19, 'nodes.notneeded.with.file', 'uses outputs of "unclosed", which is not in its needs')
    problem(lines, 'bad-template.yaml', 18, 11, 'nodes.badwhen.when', /^bad expression: /)
    expect(lines).toHaveLength(4)
  })
})

describe('type mismatches in the workflow', () => {
  it('rejects a param default that does not fit its type', async () => {
    const lines = await rejected('bad-default')
    problem(lines, 'bad-default.yaml', 5, 35, 'params.count.default', 'default must be a number, got string')
    problem(lines, 'bad-default.yaml', 6, 36, 'params.wait.default', /^default must be a duration/)
  })
  it('rejects forEach over a param that is not a list', async () => {
    const lines = await rejected('foreach-scalar')
    expect(lines).toEqual([`${file('foreach-scalar.yaml')}:9:14: nodes.a.forEach: param "target" is a string, forEach needs a list`])
  })
})

describe('--set of an unknown param or a bad value', () => {
  async function usage(args: string[]): Promise<string> {
    const r = await runMain(['good', ...args], env)
    expect(r.code).toBe(2)
    expect(existsSync(sb.state)).toBe(false)
    expect(r.stderr).toMatch(/Run 'npx zx tasks\/run\.mjs --help' for usage\.\n$/)
    return r.stderr
  }
  it('names an unknown param and lists the known ones', async () => {
    expect(await usage(['--set', 'dir=/tmp', '--set', 'dri=/x'])).toContain('credflow: --set dri: unknown param (known: dir, count, flag, items)')
  })
  it('rejects values that do not parse as the param type', async () => {
    const err = await usage(['--set', 'dir=/tmp', '--set', 'count=many', '--set', 'flag=perhaps', '--set', 'items={"a":1}'])
    expect(err).toContain('--set count: must be a number, got "many"')
    expect(err).toContain('--set flag: must be true or false, got "perhaps"')
    expect(err).toContain('--set items: must be a list, got object')
  })
  it('rejects a missing required param and a bad CREDFLOW_SET_ value', async () => {
    expect(await usage([])).toContain('param dir is required: pass --set dir=... or CREDFLOW_SET_DIR')
    const r = await runMain(['good', '--set', 'dir=/tmp'], { ...env, CREDFLOW_SET_COUNT: 'x' })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('CREDFLOW_SET_COUNT: count must be a number')
  })
  it('rejects KEY without =VALUE', async () => {
    expect(await usage(['--set', 'dir'])).toContain('--set dir: expected KEY=VALUE')
  })
})

describe('validation through the real CLI process', () => {
  it('exits 2 with the positioned problem on stderr and nothing on stdout', async () => {
    const r = await runCli(['unknown-key'], env)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`${file('unknown-key.yaml')}:7:5: nodes.a.needz: unknown key "needz"`)
  })
})
