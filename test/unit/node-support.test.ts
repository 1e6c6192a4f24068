// Which Node credflow runs on: Node 24 LTS and Node 22 from 22.19 (lib/node-support.mjs, the one
// policy); an older Node is refused by tasks/run.mjs with one clear line and exit 2, before any
// TypeScript is loaded, and the README's commands fetch a supported Node instead (test/node/use.sh).
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ENGINES, isSupported, refusal } from '../../lib/node-support.mjs'
import { ROOT } from '../fixtures/engine/harness.ts'

describe('the support policy', () => {
  it('is the engines field of package.json', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).engines).toEqual({ node: ENGINES })
  })
  it('supports 22.19 and later 22.x, 24 and later; refuses 20, 22.18, 23', () => {
    for (const v of ['22.19.0', '22.23.5', 'v24.0.0', '24.22.3', '26.12.1']) expect(isSupported(v), v).toBe(true)
    for (const v of ['18.20.0', '20.19.0', '20.20.2', '22.12.0', '22.18.0', '23.11.0']) expect(isSupported(v), v).toBe(false)
  })
  it('names the supported versions and what to do', () => {
    const r = refusal('20.20.2')
    expect(r.error).toBe('Node 20.20.2 is not supported (Node 20 is end-of-life): credflow runs on Node 24 LTS, or Node 22 from 22.19')
    expect(r.hint).toContain(`PATH="$(bash '${join(ROOT, 'test/node/fetch.sh')}' 24):$PATH"`)
  })
  it('the running Node is supported (CI runs these tests on Node 24 and 22)', () => {
    expect(isSupported()).toBe(true)
  })
})

/** A PATH whose `node` reports `version` to lib/node-support.mjs's question and is the real node otherwise. */
function pathWithNode(version: string): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-node-'))
  mkdirSync(join(dir, 'bin'))
  // process.versions.node cannot be faked from outside; --require a preload that overrides it.
  writeFileSync(join(dir, 'fake-version.cjs'), `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(version)} })\n`)
  writeFileSync(join(dir, 'bin/node'), `#!/bin/bash\nexec ${process.execPath} --require ${join(dir, 'fake-version.cjs')} "$@"\n`)
  chmodSync(join(dir, 'bin/node'), 0o755)
  for (const tool of ['bash', 'dirname']) symlinkSync(`/usr/bin/${tool}`, join(dir, 'bin', tool))
  return { path: join(dir, 'bin'), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

describe('tasks/run.mjs on an unsupported Node', () => {
  it('refuses with the policy, exit 2, before loading TypeScript; --json gets its one document', () => {
    const fake = pathWithNode('20.20.2')
    try {
      const env = { PATH: fake.path, HOME: tmpdir() }
      const plain = spawnSync('node', [join(ROOT, 'tasks/run.mjs'), 'gmail-reauth', '--dry-run'], { env, encoding: 'utf8', timeout: 20_000 })
      expect(plain.status).toBe(2)
      expect(plain.stdout).toBe('')
      expect(plain.stderr.split('\n')[0]).toBe('credflow: Node 20.20.2 is not supported (Node 20 is end-of-life): credflow runs on Node 24 LTS, or Node 22 from 22.19')
      const json = spawnSync('node', [join(ROOT, 'tasks/run.mjs'), 'gmail-reauth', '--json'], { env, encoding: 'utf8', timeout: 20_000 })
      expect(json.status).toBe(2)
      expect(JSON.parse(json.stdout)).toMatchObject({ tool: 'credflow', status: 'refused', exitCode: 2, error: refusal('20.20.2').error })
    } finally {
      fake.cleanup()
    }
  })
})

describe('test/node/use.sh (npm run demo, npm test)', () => {
  it('on a supported Node, runs the command on it and says nothing', () => {
    const r = spawnSync('bash', [join(ROOT, 'test/node/use.sh'), 'node', '-p', 'process.version'], { encoding: 'utf8', timeout: 20_000 })
    expect(r).toMatchObject({ status: 0, stdout: `${process.version}\n`, stderr: '' })
  })
  it('on Node 20, says so in one line and runs the command on the pinned Node 24 from the cache', () => {
    const fake = pathWithNode('20.20.2')
    try {
      // The cache already holds Node 24 wherever this suite runs (.ci/run fetched it); fetch.sh only looks.
      const r = spawnSync('bash', [join(ROOT, 'test/node/use.sh'), 'node', '-p', 'process.version'], { env: { PATH: `${fake.path}:${process.env.PATH}`, HOME: process.env.HOME }, encoding: 'utf8', timeout: 120_000 })
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/^v24\.\d+\.\d+\n$/)
      expect(r.stderr).toMatch(/^credflow: Node 20\.20\.2 is not supported \(Node 24 LTS, or 22 from 22\.19, is\): using Node 24\.\d+\.\d+ from \S+node-24[.\d]+\/bin\n$/)
    } finally {
      fake.cleanup()
    }
  })
})
