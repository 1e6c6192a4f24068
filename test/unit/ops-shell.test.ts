// scripts/gmail-reauth.sh, the operators' entry point: lint-clean, strict about its flags,
// clear about missing prerequisites, and a faithful pass-through to the engine. The engine is
// replaced by a fake zx in a scratch checkout (CREDFLOW_ROOT), kubectl and node by fakes on a
// PATH built for each test, so nothing here changes the real node_modules or needs a cluster
// (the no-kubectl probe links the real @kubernetes/client-node and talks to a local HTTP server).
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { REPO_ROOT, runTool } from '../ops/tools.ts'

const SCRIPT = join(REPO_ROOT, 'scripts/gmail-reauth.sh')
const STEPS = ['reauth', 'verify-scopes', 'map-key', 'update-secret', 'record-expiry', 'delete-stale', 'restart', 'verify-decode']
const RUN_ID = '20261125T014000Z-ab12'

interface Sandbox {
  root: string
  bin: string
  log: string
}

function executable(path: string, body: string): void {
  writeFileSync(path, body)
  chmodSync(path, 0o755)
}

/**
 * A scratch checkout with a fake engine that records its cwd and arguments, and a PATH that
 * holds only what the script needs (so the real kubectl in /usr/bin is not on it).
 */
function sandbox(opts: { deps?: boolean; kubectl?: 'ok' | 'no-context' | 'unreachable' | 'absent'; node?: string; engineExit?: number } = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-script-'))
  const root = join(dir, 'checkout')
  const bin = join(dir, 'bin')
  const log = join(dir, 'engine.log')
  mkdirSync(join(root, 'tasks'), { recursive: true })
  writeFileSync(join(root, 'tasks/run.mjs'), '')
  mkdirSync(join(root, 'lib'))
  copyFileSync(join(REPO_ROOT, 'lib/node-support.mjs'), join(root, 'lib/node-support.mjs'))
  const kubectl = opts.kubectl ?? 'ok'
  if (opts.deps ?? true) {
    for (const dep of ['zx', 'yaml', 'zod', '@kubernetes/client-node']) {
      mkdirSync(join(root, 'node_modules', dep), { recursive: true })
      writeFileSync(join(root, 'node_modules', dep, 'package.json'), '{}')
    }
    // Without kubectl the script probes the cluster with the real client library.
    if (kubectl === 'absent') {
      rmSync(join(root, 'node_modules/@kubernetes'), { recursive: true })
      symlinkSync(join(REPO_ROOT, 'node_modules/@kubernetes'), join(root, 'node_modules/@kubernetes'))
    }
    mkdirSync(join(root, 'node_modules/.bin'))
    executable(join(root, 'node_modules/.bin/zx'), `#!/bin/bash\n{ printf 'cwd=%s\\n' "$PWD"; printf 'arg=%s\\n' "$@"; echo ---; } >> ${log}\nexit ${opts.engineExit ?? 0}\n`)
  }
  mkdirSync(bin)
  for (const tool of ['bash', 'sort', 'head', 'dirname', 'cat']) {
    symlinkSync(['/usr/bin', '/bin'].map((d) => join(d, tool)).find(existsSync)!, join(bin, tool))
  }
  // A node that reports another version to `node -p` and otherwise is the real one.
  if (opts.node) executable(join(bin, 'node'), `#!/bin/bash\n[[ $1 == -p ]] && { echo ${opts.node}; exit; }\nexec ${process.execPath} "$@"\n`)
  else symlinkSync(process.execPath, join(bin, 'node'))
  if (kubectl !== 'absent') {
    executable(join(bin, 'kubectl'), [
      '#!/bin/bash',
      `echo "$*" >> ${join(dir, 'kubectl.log')}`,
      `case "$*" in`,
      `  *"config current-context") ${kubectl === 'no-context' ? 'echo "error: current-context is not set" >&2; exit 1' : 'echo operator@prod'} ;;`,
      `  *"config get-contexts -o name") printf 'operator@prod\\nstaging\\n' ;;`,
      `  *readyz*) ${kubectl === 'unreachable' ? 'echo "The connection to the server 10.9.9.9:6443 was refused" >&2; exit 1' : 'echo ok'} ;;`,
      '  *) echo "unexpected kubectl $*" >&2; exit 99 ;;',
      'esac',
    ].join('\n') + '\n')
  }
  return { root, bin, log }
}

function kubeconfigFor(server: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'credflow-kc-')), 'config')
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'operator@test',
    // client-node refuses plain http unless TLS verification is off (our stand-in is http).
    clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
    contexts: [{ name: 'operator@test', context: { cluster: 'c', user: 'u' } }],
  }))
  return file
}

function run(sb: Sandbox | undefined, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('/bin/bash', [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { HOME: tmpdir(), ...(sb ? { PATH: sb.bin, CREDFLOW_ROOT: sb.root } : { PATH: process.env.PATH }), ...env },
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Each engine call as { cwd, args }. */
function engineCalls(sb: Sandbox): { cwd: string; args: string[] }[] {
  if (!existsSync(sb.log)) return []
  return readFileSync(sb.log, 'utf8').split('---\n').filter(Boolean).map((call) => {
    const lines = call.trim().split('\n')
    return { cwd: lines[0].replace(/^cwd=/, ''), args: lines.slice(1).map((l) => l.replace(/^arg=/, '')) }
  })
}

describe('shellcheck', () => {
  it('passes on the operator script and the tools installer', () => {
    const r = runTool('shellcheck', ['--severity=style', SCRIPT, join(REPO_ROOT, 'test/ops/tools.sh'), join(REPO_ROOT, 'test/ops/kube-state-metrics.sh'), join(REPO_ROOT, 'test/ops/debian-packages.sh')])
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('would catch an unquoted expansion (the check is live)', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'credflow-sc-')), 'gmail-reauth.sh')
    writeFileSync(copy, readFileSync(SCRIPT, 'utf8').replace('cd "$ROOT"\n', 'cd $ROOT\n'))
    const r = runTool('shellcheck', [copy])
    expect(r.status).not.toBe(0)
    expect(r.stdout).toContain('SC2086')
  })
})

describe('usage', () => {
  it.each(['--help', '-h'])('%s prints the usage with every step and exits 0, running nothing', (flag) => {
    const r = run(undefined, [flag])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^Usage: gmail-reauth\.sh \[options\]/)
    for (const f of ['--dry-run', '--resume', '--from STEP', '--yes', '--non-interactive']) expect(r.stdout).toContain(f)
    expect(r.stdout).toContain(STEPS.join(' '))
    expect(r.stderr).toBe('')
  })

  it('an unknown flag exits 2 with the usage on stderr', () => {
    const r = run(undefined, ['--bogus'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('unknown option: --bogus')
    expect(r.stderr).toContain('Usage: gmail-reauth.sh')
    expect(r.stdout).toBe('')
  })

  it('--from with an unknown step exits 2 and lists the steps', () => {
    const r = run(sandbox(), ['--from', 'deploy'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`--from deploy: no such step (steps: ${STEPS.join(' ')})`)
  })

  it('--from without a step exits 2', () => {
    expect(run(sandbox(), ['--from']).status).toBe(2)
  })

  it('checks CREDFLOW_FROM from the environment the same way', () => {
    const sb = sandbox()
    const r = run(sb, [], { CREDFLOW_FROM: 'deploy' })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('CREDFLOW_FROM=deploy: no such step')
    expect(engineCalls(sb)).toEqual([])
  })

  it('knows exactly the nodes of workflows/gmail-reauth.yaml', () => {
    const wf = parse(readFileSync(join(REPO_ROOT, 'workflows/gmail-reauth.yaml'), 'utf8')) as { nodes: Record<string, unknown> }
    expect(Object.keys(wf.nodes)).toEqual(STEPS)
    expect(readFileSync(SCRIPT, 'utf8')).toContain(`STEPS=(${STEPS.join(' ')})`)
  })
})

describe('prerequisites', () => {
  it('reports missing node_modules with the command to fix it, before running anything', () => {
    const sb = sandbox({ deps: false })
    const r = run(sb, ['--dry-run'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`dependencies are not installed in ${sb.root}/node_modules`)
    expect(r.stderr).toContain('missing: zx yaml zod @kubernetes/client-node .bin/zx')
    expect(r.stderr).toContain(`run \`npm ci\` in ${sb.root}`)
    expect(engineCalls(sb)).toEqual([])
  })

  it('refuses Node.js 20 (end-of-life) and 22 before 22.19, naming the supported versions', () => {
    for (const [node, why] of [['20.20.2', 'Node 20 is end-of-life'], ['22.18.0', 'upgrade to the latest 22.x']]) {
      const sb = sandbox({ node })
      const r = run(sb, [])
      expect(r.status).toBe(2)
      expect(r.stderr).toContain(`Node ${node} is not supported (${why}): credflow runs on Node 24 LTS, or Node 22 from 22.19`)
      expect(r.stderr).toContain("test/node/fetch.sh' 24")
      expect(engineCalls(sb)).toEqual([])
    }
  })

  it('accepts Node.js 22.19 and later, 24 and 26', () => {
    for (const node of ['22.19.0', '24.0.0', '26.1.0']) expect(run(sandbox({ node }), []).status).toBe(0)
  })

  it('reports a missing kube context', () => {
    const r = run(sandbox({ kubectl: 'no-context' }), [])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('kubectl has no current context')
  })

  it('reports an unreachable cluster with the context and kubectl’s error', () => {
    const r = run(sandbox({ kubectl: 'unreachable' }), [])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('cannot reach the cluster of kube context "operator@prod": The connection to the server 10.9.9.9:6443 was refused')
  })

  it('checks the context and kubeconfig the workflow will use (--set after --, or CREDFLOW_SET_*)', () => {
    const sb = sandbox()
    const kubeconfig = join(sb.root, 'ops.kubeconfig')
    writeFileSync(kubeconfig, '{}')
    const r = run(sb, ['--', '--set', 'context=staging', `--set=kubeconfig=${kubeconfig}`])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toContain('kube context: staging')
    const calls = readFileSync(join(sb.root, '../kubectl.log'), 'utf8')
    expect(calls).toContain(`--kubeconfig ${kubeconfig} --context staging --request-timeout=10s get --raw=/readyz`)
    expect(calls).not.toContain('current-context')

    const fromEnv = sandbox()
    expect(run(fromEnv, [], { CREDFLOW_SET_CONTEXT: 'staging' }).stderr).toContain('kube context: staging')
  })

  it('refuses a context param the kubeconfig does not have, or a kubeconfig param that is not there', () => {
    const sb = sandbox()
    const r = run(sb, ['--', '--set', 'context=prod-typo'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('no kube context "prod-typo" (the context param)')
    const missing = run(sb, ['--', '--set', 'kubeconfig=/nonexistent/kubeconfig'])
    expect(missing.status).toBe(2)
    expect(missing.stderr).toContain('kubeconfig /nonexistent/kubeconfig (the kubeconfig param) does not exist')
    expect(engineCalls(sb)).toEqual([])
  })

  it('without kubectl, probes the context param, not the current context', () => {
    const sb = sandbox({ kubectl: 'absent' })
    const file = kubeconfigFor('http://127.0.0.1:9')
    const r = run(sb, ['--', '--set', 'context=nope'], { KUBECONFIG: file })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('no kube context "nope" (the context param)')
    const ok = run(sb, ['--', '--set', 'context=operator@test', '--set', `kubeconfig=${file}`], { KUBECONFIG: '/nonexistent' })
    expect(ok.stderr).toContain('cannot reach the cluster of kube context "operator@test" (http://127.0.0.1:9)')
  })

  it('without kubectl, reports a missing kubeconfig', () => {
    const sb = sandbox({ kubectl: 'absent' })
    const r = run(sb, [], { HOME: mkdtempSync(join(tmpdir(), 'credflow-home-')) })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('no current kube context: set KUBECONFIG')
    expect(engineCalls(sb)).toEqual([])
  })

  it('without kubectl, reports an unreachable cluster with the context and server', () => {
    const sb = sandbox({ kubectl: 'absent' })
    const r = run(sb, [], { KUBECONFIG: kubeconfigFor('http://127.0.0.1:9') })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('cannot reach the cluster of kube context "operator@test" (http://127.0.0.1:9)')
  })

  it('without kubectl, asks the apiserver for /version with the client library, then runs', async () => {
    const seen: string[] = []
    const server = createServer((req, res) => {
      seen.push(req.url ?? '')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ major: '1', minor: '35', gitVersion: 'v1.35.4' }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const sb = sandbox({ kubectl: 'absent' })
      const kubeconfig = kubeconfigFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
      // Async: the server above must keep answering while the script runs.
      const child = spawn('/bin/bash', [SCRIPT, '--dry-run'], { env: { HOME: tmpdir(), PATH: sb.bin, CREDFLOW_ROOT: sb.root, KUBECONFIG: kubeconfig } })
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
      expect(status, stderr).toBe(0)
      expect(seen).toContain('/version')
      expect(stderr).toContain('kube context: operator@test (checked without kubectl)')
      expect(engineCalls(sb).map((c) => c.args.slice(1))).toEqual([['gmail-reauth', '--dry-run']])
    } finally {
      server.close()
    }
  })
})

describe('running the workflow', () => {
  it('passes the flags to `zx tasks/run.mjs gmail-reauth` from the repository root', () => {
    const sb = sandbox()
    const r = run(sb, ['--dry-run', '--resume', RUN_ID, '--from', 'restart', '--yes', '--non-interactive', '--', '--set', 'reauthAfter=3d'])
    expect(r.status).toBe(0)
    expect(engineCalls(sb)).toEqual([
      {
        cwd: sb.root,
        args: [join(sb.root, 'tasks/run.mjs'), 'gmail-reauth', '--dry-run', '--resume', RUN_ID, '--from', 'restart', '--yes', '--non-interactive', '--set', 'reauthAfter=3d'],
      },
    ])
    expect(r.stderr).toContain('kube context: operator@prod')
  })

  it('accepts --from=STEP, --resume without a run id and the short flags', () => {
    const sb = sandbox()
    expect(run(sb, ['-n', '-y', '--resume', '--from=verify-decode']).status).toBe(0)
    expect(engineCalls(sb)[0].args.slice(2)).toEqual(['--dry-run', '--yes', '--resume', '--from', 'verify-decode'])
  })

  it("exits with the engine's status", () => {
    expect(run(sandbox({ engineExit: 3 }), []).status).toBe(3)
  })

  it('prints no colour codes when stderr is not a terminal', () => {
    const r = run(sandbox({ kubectl: 'unreachable' }), [])
    expect(r.stderr).not.toContain('\u001b[')
  })

  it('colours errors on a terminal unless NO_COLOR is set', () => {
    const sb = sandbox({ kubectl: 'unreachable' })
    // util-linux `script` gives the script a pseudo-terminal.
    const viaTty = (env: string) =>
      spawnSync('/usr/bin/script', ['-qec', `env ${env} PATH=${sb.bin} CREDFLOW_ROOT=${sb.root} TERM=xterm /bin/bash ${SCRIPT}`, '/dev/null'], { encoding: 'utf8' }).stdout
    expect(viaTty('')).toContain('\u001b[31m')
    const plain = viaTty('NO_COLOR=1')
    expect(plain).toContain('cannot reach the cluster')
    expect(plain).not.toContain('\u001b[31m')
  })
})
