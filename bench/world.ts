/**
 * The world `npm run bench` measures in: the test control plane (test/k8s/harness.ts) with the
 * production fixtures (basketball-api), N extra namespaces for the fan-out (Secret, stale Secret
 * and a one-replica Deployment mounting the Secret in each), the Google stand-in with a valid,
 * already-consented token file (test/e2e/gmail-env.ts, so no consent happens), kubectl built
 * from the plane's release, and a recording proxy to count API requests. Resets go straight to
 * the apiserver (test/k8s/api.ts), not through the measured clients.
 */
import { execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { apiCall, type ApiTarget } from '../test/k8s/api.ts'
import { FIXTURE_TARGET, FIXTURE_TOKEN_JSON, applyFixtures, type Target } from '../test/k8s/fixtures.ts'
import { startControlPlane, type ControlPlane } from '../test/k8s/harness.ts'
import { startGmailEnv, ROOT, type GmailEnv } from '../test/e2e/gmail-env.ts'
import { startApiProxy, type ApiProxy } from '../test/e2e/api-proxy.ts'

export type { Target }

export const PRODUCTION = FIXTURE_TARGET

export const fanTarget = (i: number): Target => ({
  namespace: `bench-fan-${String(i).padStart(2, '0')}`,
  secret: 'gmail-oauth-token',
  key: 'token.json',
  staleSecrets: ['gmail-oauth-stale'],
  deployments: ['consumer'],
})

export interface World {
  plane: ControlPlane
  env: GmailEnv
  proxy: ApiProxy
  kubectl: string
  admin: ApiTarget
  /** Put the targets' Secrets back to the old token and the stale Secrets back: a sync has work to do. */
  reset(targets: Target[]): Promise<void>
  /** Create the fan-out namespaces 1..n and wait until their Deployments are available. */
  addFanOut(n: number): Promise<void>
  close(): Promise<void>
}

export function buildKubectl(): string {
  return execFileSync('bash', [join(ROOT, 'test/k8s/kubectl.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!
}

export async function openWorld(progress: (l: string) => void): Promise<World> {
  const kubectl = buildKubectl()
  // BENCH_KCM_FLAGS: more kube-controller-manager flags (space-separated), e.g. its client's
  // --kube-api-qps (default 20), which paces every Deployment rollout of a fan-out.
  const controllerManagerFlags = (process.env.BENCH_KCM_FLAGS ?? '').split(/\s+/).filter(Boolean)
  const plane = await startControlPlane({ onProgress: progress, controllerManagerFlags })
  const admin: ApiTarget = { server: plane.server, token: plane.adminToken, caFile: plane.caFile }
  let env: GmailEnv | undefined
  try {
    await applyFixtures(plane.kubeconfigPath)
    env = await startGmailEnv({ kubeconfig: plane.kubeconfigPath })
    await env.seedTokenFile()
    const proxy = await startApiProxy(plane.kubeconfigPath, { dir: env.dir, authorize: true })
    const call = async (method: string, path: string, body?: unknown, ok: number[] = [200, 201, 404]) => {
      const r = await apiCall(admin, method, path, body, 30_000)
      if (!ok.includes(r.status)) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`)
      return r
    }
    const reset = async (targets: Target[]) => {
      await Promise.all(targets.map(async (t) => {
        const base = `/api/v1/namespaces/${t.namespace}/secrets`
        // Deleted and created, not patched: the tool's annotations (grant time, fingerprints) go too.
        await Promise.all([t.secret, ...t.staleSecrets].map((n) => call('DELETE', `${base}/${n}`)))
        await call('POST', base, secret(t.namespace, t.secret, { [t.key]: FIXTURE_TOKEN_JSON }), [201])
        await Promise.all(t.staleSecrets.map((n) => call('POST', base, secret(t.namespace, n, { 'token.json': '{"stale":true}' }), [201])))
      }))
    }
    const addFanOut = async (n: number) => {
      const targets = Array.from({ length: n }, (_, i) => fanTarget(i + 1))
      await Promise.all(targets.map(async (t) => {
        await call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: t.namespace } }, [201, 409])
        await call('POST', `/apis/apps/v1/namespaces/${t.namespace}/deployments`, consumer(t, plane.nodeName), [201, 409])
      }))
      await reset(targets)
      await waitAvailable(targets)
    }
    const waitAvailable = async (targets: Target[]) => {
      const deadline = Date.now() + 120_000
      for (const t of targets) {
        for (const d of t.deployments) {
          for (;;) {
            const s = (await call('GET', `/apis/apps/v1/namespaces/${t.namespace}/deployments/${d}`)).json()
            const want = s.spec?.replicas ?? 1
            if (s.status?.availableReplicas === want && s.status?.updatedReplicas === want) break
            if (Date.now() > deadline) throw new Error(`deployment ${t.namespace}/${d} not available: ${JSON.stringify(s.status)}`)
            await new Promise((r) => setTimeout(r, 200))
          }
        }
      }
    }
    const world: World = {
      plane, env, proxy, kubectl, admin, reset, addFanOut,
      close: async () => {
        await proxy.close()
        await env?.close()
        await plane.stop()
      },
    }
    return world
  } catch (e) {
    await env?.close()
    await plane.stop()
    throw e
  }
}

const secret = (namespace: string, name: string, data: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
})

function consumer(t: Target, nodeName: string) {
  const labels = { app: t.deployments[0] }
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: t.deployments[0], namespace: t.namespace, labels },
    spec: {
      replicas: 1, selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeName, // no scheduler: bound to the kwok node up front, as the fixtures do
          containers: [{ name: 'app', image: 'registry.example/consumer:1.0.0', volumeMounts: [{ name: 'token', mountPath: '/token', readOnly: true }] }],
          volumes: [{ name: 'token', secret: { secretName: t.secret } }],
        },
      },
    },
  }
}

/**
 * `kubectl get deployment -w`, as a reference for when the rollout completed: resolves with the
 * performance.now() of the first event showing it complete (kubectl rollout status' rule) at a
 * generation above the one seen first. Call stop() when done with it.
 */
export function watchRollout(kubectl: string, kubeconfig: string, ns: string, name: string): Promise<{ completedAt: Promise<number>; stop(): void }> {
  const tpl = '{.metadata.generation} {.status.observedGeneration} {.spec.replicas} {.status.replicas} {.status.updatedReplicas} {.status.availableReplicas}{"\\n"}'
  const child = spawn(kubectl, ['--kubeconfig', kubeconfig, '-n', ns, 'get', 'deployment', name, '-w', '-o', `jsonpath=${tpl}`], { stdio: ['ignore', 'pipe', 'ignore'] })
  let first: number | undefined
  let done: (t: number) => void = () => {}
  const completedAt = new Promise<number>((r) => (done = r))
  return new Promise((ready, fail) => {
    let partial = ''
    child.on('error', fail)
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      const at = performance.now()
      const lines = (partial + c).split('\n')
      partial = lines.pop() ?? ''
      for (const l of lines) {
        const [gen, observed, want, replicas, updated, available] = l.split(' ').map((x) => Number(x || 0))
        if (first === undefined) {
          first = gen
          ready({ completedAt, stop: () => { try { process.kill(child.pid!, 'SIGTERM') } catch {} } })
        } else if (gen > first && observed >= gen && updated === want && replicas === want && available === want) done(at)
      }
    })
  })
}
