// scripts/gmail-reauth.sh does the whole job the way operators call it: it checks the
// prerequisites, runs `gmail-mcp reauth` (a stand-in for the upstream tool, found on PATH
// under that name), and the workflow then writes the Secret, deletes the stale one, rolls
// basketball-api and verifies. Real control plane, Google stand-in, no flags but --yes.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { consentRedirect } from '../oauth-server/index.ts'
import { FAKE_GMAIL_MCP, ROOT, type GmailEnv } from '../e2e/gmail-env.ts'
import { openProxiedSandbox, closeProxiedSandbox } from '../e2e/sandbox.ts'
import type { ApiProxy } from '../e2e/api-proxy.ts'
import type { ClusterView } from '../e2e/cluster.ts'

const kubeconfig = inject('kubeconfig')
const AUTH_URL = /(https?:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/v2\/auth\?\S+)/

let env: GmailEnv
let proxy: ApiProxy
let view: ClusterView
let sets: string[]
let bin: string

beforeAll(async () => {
  ;({ env, proxy, view } = await openProxiedSandbox(kubeconfig))
  sets = env.sets({ kubeconfig: proxy.kubeconfig, reauthMode: 'external', reauthCommand: 'gmail-mcp reauth' })
  // `gmail-mcp` on PATH: the upstream CLI's name, pointed at this sandbox's Google.
  bin = join(env.dir, 'bin')
  mkdirSync(bin)
  const e = env.standIn.endpoints
  writeFileSync(
    join(bin, 'gmail-mcp'),
    `#!/bin/sh\nexec "${process.execPath}" "${FAKE_GMAIL_MCP}" "$@" --token-file "${env.tokenFile}" --client-secrets "${env.clientSecretsFile}" --auth-url "${e.authUrl}" --token-url "${e.tokenUrl}"\n`,
  )
  chmodSync(join(bin, 'gmail-mcp'), 0o755)
})
afterAll(() => closeProxiedSandbox(kubeconfig, { env, proxy }))

/** Runs the operator script; plays the browser for the consent URL `gmail-mcp reauth` prints. */
function runScript(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn('bash', [join(ROOT, 'scripts/gmail-reauth.sh'), ...args], {
    cwd: env.dir,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, KUBECONFIG: kubeconfig, CREDFLOW_STATE_DIR: env.stateDir, CI: 'true', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let answered = false
  const onData = (c: Buffer) => {
    out += c.toString()
    const m = AUTH_URL.exec(out)
    if (m && !answered) {
      answered = true
      void consentRedirect(m[1]).then((location) => fetch(location).then((r) => r.text()))
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })))
}

describe('scripts/gmail-reauth.sh, end to end', () => {
  it('consents through gmail-mcp reauth, syncs the Secret, deletes the stale one, rolls out and verifies', async () => {
    const before = await view.snapshot()
    // The sandbox's addresses; reauth mode and command are the defaults operators get. No TTY
    // here, so --interactive stands in for the operator's terminal.
    const r = await runScript(['--yes', '--', '--interactive', ...sets])

    expect(r.code, r.out).toBe(0)
    expect(r.out).toMatch(/kube context: /) // the script's own prerequisite check ran
    expect(r.out).toMatch(/VERDICT: basketball-api\/gmail-oauth-token is live with the refreshed token/)
    // gmail-mcp wrote the file; the Secret holds exactly its bytes; the stale Secret is gone.
    const local = readFileSync(env.tokenFile)
    expect(JSON.parse(local.toString('utf8')).refresh_token).toBeTruthy()
    expect(await view.secretBytes()).toEqual(local)
    const after = await view.snapshot()
    expect(after.secret!.uid).not.toBe(before.secret!.uid) // recreated: the age alert resets
    expect(before.stale).toBeDefined()
    expect(after.stale).toBeUndefined()
    expect(after.deployment.restartedAt).toBeDefined()
    expect(after.deployment.restartedAt).not.toBe(before.deployment.restartedAt)
    expect(after.pvc).toEqual(before.pvc)
    expect(after.worker).toEqual(before.worker) // the other Deployment is not rolled
  }, 180_000)
})
