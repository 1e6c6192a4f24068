/**
 * A sandbox for the hostile cases that need no cluster: a temp HOME with a token file and
 * client secrets of one (fake) client, a state directory, a kubeconfig whose server refuses
 * connections (so nothing can reach a cluster by mistake), and one server that accepts
 * connections and never answers (a wedged apiserver or Google endpoint). The same cases run
 * on the real plane in the same layout, given a `SandboxWorld`: the stand-in's grant and
 * client, the plane's kubeconfig, the stand-in's endpoints.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FIXTURE_TOKEN_JSON } from '../k8s/fixtures.ts'

export const CLIENT_ID = 'fixture-client.apps.googleusercontent.com'

export interface LocalSandbox {
  dir: string
  tokenFile: string
  clientSecretsFile: string
  /** The cluster of the run: https://127.0.0.1:1 (connection refused), or the plane. */
  kubeconfig: string
  /** Server https://127.0.0.1:1: connection refused (the same file as `kubeconfig` without a plane). */
  refusedKubeconfig: string
  /** Server https://127.0.0.1:<hang>: accepts, never answers. */
  hangKubeconfig: string
  hangUrl: string
  stateDir: string
  env: Record<string, string>
  /** `gmail-reauth` with --set for this sandbox, then `extra`. */
  args(...extra: string[]): string[]
  cleanup(): void
}

export function kubeconfigFor(server: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
    contexts: [{ name: 'hostile', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'hostile',
  })
}

/** What the sandbox's files hold when the cases run against a real cluster and Google stand-in. */
export interface SandboxWorld {
  tokenJson: string
  clientSecretsJson: string
  kubeconfigText: string
  /** Params every run gets before the case's own (the stand-in's endpoints). */
  sets: Record<string, string>
}

export function localSandbox(hangPort: number, world?: SandboxWorld): LocalSandbox {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-hostile-'))
  const tokenFile = join(dir, 'secrets', 'google-oauth', 'gmail-westsidebasktball.json')
  mkdirSync(join(dir, 'secrets', 'google-oauth'), { recursive: true, mode: 0o700 })
  writeFileSync(tokenFile, world?.tokenJson ?? FIXTURE_TOKEN_JSON, { mode: 0o600 })
  const clientSecretsFile = join(dir, 'client_secret.json')
  const fixtureClient = JSON.stringify({ installed: { client_id: CLIENT_ID, client_secret: 'fixture-client-secret', redirect_uris: ['http://localhost'] } })
  writeFileSync(clientSecretsFile, world?.clientSecretsJson ?? fixtureClient, { mode: 0o600 })
  const refusedKubeconfig = join(dir, world ? 'refused.kubeconfig' : 'kubeconfig')
  writeFileSync(refusedKubeconfig, kubeconfigFor('https://127.0.0.1:1'), { mode: 0o600 })
  const kubeconfig = join(dir, 'kubeconfig')
  if (world) writeFileSync(kubeconfig, world.kubeconfigText, { mode: 0o600 })
  const hangUrl = `https://127.0.0.1:${hangPort}`
  const hangKubeconfig = join(dir, 'hang.kubeconfig')
  writeFileSync(hangKubeconfig, kubeconfigFor(hangUrl), { mode: 0o600 })
  const stateDir = join(dir, 'state')
  const env = { PATH: process.env.PATH ?? '', HOME: dir, CI: 'true', NO_COLOR: '1', CREDFLOW_STATE_DIR: stateDir, KUBECONFIG: kubeconfig }
  const args = (...extra: string[]) => [
    'gmail-reauth',
    '--set', `tokenFile=${tokenFile}`,
    '--set', `clientSecretsFile=${clientSecretsFile}`,
    '--set', `kubeconfig=${kubeconfig}`,
    ...Object.entries(world?.sets ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    '--non-interactive',
    '--yes',
    ...extra,
  ]
  return { dir, tokenFile, clientSecretsFile, kubeconfig, refusedKubeconfig, hangKubeconfig, hangUrl, stateDir, env, args, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A TCP server that takes every connection and never sends a byte. */
export async function startHangServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}
