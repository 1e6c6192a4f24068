// test/ops/debian-packages.sh: Prometheus, promtool, shellcheck and libfaketime come from Debian
// packages pinned in the script and unpacked into version-keyed cache directories (never
// installed into the system); a warm cache never calls apt, and a pin the mirror no longer
// offers fails with the versions it does offer and leaves nothing half-unpacked behind.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type OpsTool, REPO_ROOT, runTool, toolPath } from '../ops/tools.ts'

const SCRIPT = join(REPO_ROOT, 'test/ops/debian-packages.sh')
const pin = (name: string) => new RegExp(`^${name}_VERSION=(\\S+)$`, 'm').exec(readFileSync(SCRIPT, 'utf8'))![1]
const PROMETHEUS = pin('PROMETHEUS')

/** A directory of fake apt-get, apt-cache and dpkg-deb that log each call to `calls` and fail unless told otherwise. */
function fakeApt(script: Record<string, string> = {}): { bin: string; calls: string } {
  const bin = mkdtempSync(join(tmpdir(), 'credflow-apt-'))
  const calls = join(bin, 'calls.log')
  writeFileSync(calls, '')
  for (const tool of ['apt-get', 'apt-cache', 'dpkg-deb', 'dpkg']) {
    const path = join(bin, tool)
    writeFileSync(path, `#!/bin/sh\necho "${tool} $*" >> ${calls}\n${script[tool] ?? 'exit 100'}\n`)
    chmodSync(path, 0o755)
  }
  return { bin, calls }
}

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
}

describe('the Debian tools come from version-keyed cache directories', () => {
  const printed = run(['--print'])
  const lines = printed.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string])

  it('lists prometheus, promtool, shellcheck and libfaketime, each under <package>-<pinned version>/', () => {
    expect(printed.status).toBe(0)
    expect(lines.map(([tool]) => tool)).toEqual(['prometheus', 'promtool', 'shellcheck', 'libfaketime.so.1'])
    const pkg: Record<string, string> = { prometheus: `prometheus-${PROMETHEUS}`, promtool: `prometheus-${PROMETHEUS}`, shellcheck: `shellcheck-${pin('SHELLCHECK')}`, 'libfaketime.so.1': `libfaketime-${pin('LIBFAKETIME')}` }
    for (const [tool, path] of lines) expect(path, tool).toContain(`/${pkg[tool]}/`)
  })

  it('the tests run exactly those files (no /usr/bin)', () => {
    for (const [tool, path] of lines) expect(toolPath(tool as OpsTool), tool).toBe(path)
  })

  it('the cached prometheus and promtool are the pinned Debian revision', () => {
    for (const tool of ['prometheus', 'promtool'] as const) {
      const r = runTool(tool, ['--version'])
      expect(r.stdout + r.stderr, tool).toContain(`revision: ${PROMETHEUS}`)
    }
  })

  it('a warm run calls no apt at all and prints the same lines', () => {
    const apt = fakeApt()
    const r = run([], { PATH: `${apt.bin}:${process.env.PATH}` })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(printed.stdout)
    expect(readFileSync(apt.calls, 'utf8')).toBe('')
  })
})

describe('a cold cache whose pin the mirror no longer offers', () => {
  it('fails naming the package, the versions Debian offers and the pin to change; nothing is left in the cache', () => {
    const cache = mkdtempSync(join(tmpdir(), 'credflow-debcache-'))
    const apt = fakeApt({
      'apt-get': '[ "$1" = update ] && exit 0\necho "E: Version \'x\' for \'prometheus\' was not found" >&2\nexit 100',
      'apt-cache': `echo " prometheus | ${PROMETHEUS.replace(/u\d+$/, 'u9')} | http://deb.debian.org/debian bookworm/main amd64 Packages"`,
    })
    const r = run([], { PATH: `${apt.bin}:${process.env.PATH}`, CREDFLOW_CACHE_DIR: cache })
    expect(r.status).toBe(1)
    if (process.getuid?.() === 0) {
      expect(r.stderr).toContain(`Debian offers no prometheus ${PROMETHEUS} (it offers: ${PROMETHEUS.replace(/u\d+$/, 'u9')}): update the pin in test/ops/debian-packages.sh`)
      expect(readFileSync(apt.calls, 'utf8')).toMatch(/^apt-get update/m) // a fresh machine's empty package lists are read once
    } else {
      expect(r.stderr).toContain(`apt-get download prometheus=${PROMETHEUS} failed; as root, run \`apt-get update\``)
    }
    expect(r.stdout).toBe('')
    mkdirSync(cache, { recursive: true })
    expect(readdirSync(cache)).toEqual([]) // the temp directory went with the failure
  })
})
