/**
 * The real monitoring pipeline against the test plane: kube-state-metrics (built by
 * test/ops/kube-state-metrics.sh) with the shipped custom-resource-state config, run as a
 * ServiceAccount holding the shipped ClusterRole (plus the Secret list/watch every
 * kube-state-metrics has), and Prometheus (Debian's package) scraping it with honor_labels and
 * the shipped rule file loaded unchanged. Scrape and evaluation every second, so a test sees
 * an alert's state within seconds; both bind to 127.0.0.1 and are stopped by pid.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { applyManifestFiles, saKubeconfig } from './cluster.ts'
import { REPO_ROOT, toolPath } from './tools.ts'
import { adminKubeConfig } from '../k8s/fixtures.ts'
import { freePort, startComponent, stopComponent, waitUntil, type Component } from '../k8s/processes.ts'

export const KSM_CONFIG = join(REPO_ROOT, 'deploy/monitoring/kube-state-metrics-config.yaml')
export const KSM_RBAC = ['kube-state-metrics-clusterrole.yaml', 'kube-state-metrics-clusterrolebinding.yaml'].map((f) => join(REPO_ROOT, 'deploy/monitoring', f))
export const RULES = join(REPO_ROOT, 'terraform/modules/monitoring/rules/gmail-oauth-expiry.rules.yaml')
/** The subject deploy/monitoring/kube-state-metrics-clusterrolebinding.yaml binds (kube-prometheus-stack's default). */
export const KSM_SA = { namespace: 'monitoring', name: 'kube-prometheus-stack-kube-state-metrics' } as const

export interface Sample {
  labels: Record<string, string>
  value: number
}

export interface Alert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: 'pending' | 'firing'
  activeAt: string
  value: string
}

export interface Monitoring {
  ksm: Component
  prometheus: Component
  ksmUrl: string
  promUrl: string
  /** The exporter's /metrics lines for `metric` (exact text, as Prometheus would scrape them). */
  exported(metric: string): Promise<string[]>
  /** An instant query's vector. */
  query(expr: string): Promise<Sample[]>
  /** Active alerts (pending or firing) named `name`. */
  alerts(name?: string): Promise<Alert[]>
  /** Poll `fn` until it returns a value that is not undefined (deadline `timeoutMs`). */
  until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>
  restartKsm(): Promise<void>
  stop(): Promise<void>
}

/** The Role every kube-state-metrics has for its Secret metrics (its chart's default ClusterRole), for this test's SA. */
async function grantSecretsRead(admin: string): Promise<void> {
  const k8s = await import('@kubernetes/client-node')
  const objects = k8s.KubernetesObjectApi.makeApiClient(await adminKubeConfig(admin))
  const name = 'credflow-test-ksm-secrets'
  const docs: any[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: KSM_SA.namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: KSM_SA },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', ...KSM_SA }] },
  ]
  for (const d of docs) await objects.patch(d, undefined, undefined, 'credflow-ops-tests', true, k8s.PatchStrategy.ServerSideApply)
}

export async function startMonitoring(admin: string, dir: string): Promise<Monitoring> {
  mkdirSync(dir, { recursive: true })
  await grantSecretsRead(admin)
  await applyManifestFiles(admin, KSM_RBAC)
  const kubeconfig = await saKubeconfig(admin, KSM_SA.namespace, KSM_SA.name)
  const [ksmPort, ksmTelemetry, promPort] = [await freePort(), await freePort(), await freePort()]
  const ksmUrl = `http://127.0.0.1:${ksmPort}`
  const promUrl = `http://127.0.0.1:${promPort}`
  const ksmArgs = [
    `--kubeconfig=${kubeconfig}`,
    '--host=127.0.0.1', `--port=${ksmPort}`, '--telemetry-host=127.0.0.1', `--telemetry-port=${ksmTelemetry}`,
    '--resources=secrets', '--namespaces=basketball-api',
    `--custom-resource-state-config-file=${KSM_CONFIG}`,
  ]
  const startKsm = async () => {
    const c = startComponent('kube-state-metrics', toolPath('kube-state-metrics'), ksmArgs, join(dir, 'kube-state-metrics.log'))
    await waitUntil(c, 'serving /metrics', async () => (await fetch(`${ksmUrl}/metrics`)).ok, 60_000, 250)
    return c
  }
  const promConfig = join(dir, 'prometheus.yml')
  writeFileSync(promConfig, [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    `rule_files: [${JSON.stringify(RULES)}]`,
    'scrape_configs:',
    '  - job_name: kube-state-metrics',
    // As kube-prometheus-stack's ServiceMonitor: keep the objects' namespace label.
    '    honor_labels: true',
    `    static_configs: [{ targets: ["127.0.0.1:${ksmPort}"] }]`,
    '',
  ].join('\n'))
  const m: Monitoring = {
    ksm: await startKsm(),
    prometheus: startComponent('prometheus', toolPath('prometheus'), [
      `--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`,
    ], join(dir, 'prometheus.log')),
    ksmUrl,
    promUrl,
    async exported(metric) {
      const text = await (await fetch(`${ksmUrl}/metrics`)).text()
      return text.split('\n').filter((l) => l.startsWith(metric + '{') || l.startsWith(metric + ' '))
    },
    async query(expr) {
      const r = await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json() as any
      if (r.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(r)}`)
      return r.data.result.map((s: any) => ({ labels: s.metric, value: Number(s.value[1]) }))
    },
    async alerts(name) {
      const r = await (await fetch(`${promUrl}/api/v1/alerts`)).json() as any
      return (r.data.alerts as Alert[]).filter((a) => !name || a.labels.alertname === name)
    },
    async until(what, fn, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      let last: unknown
      for (;;) {
        try {
          const v = await fn()
          if (v !== undefined) return v
        } catch (e) {
          last = e
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`)
        await sleep(250)
      }
    },
    async restartKsm() {
      await stopComponent(m.ksm)
      m.ksm = await startKsm()
    },
    async stop() {
      await Promise.all([stopComponent(m.ksm), stopComponent(m.prometheus)])
    },
  }
  await waitUntil(m.prometheus, 'ready with the rule file loaded', async () => {
    const r = await (await fetch(`${promUrl}/api/v1/rules`)).json() as any
    return r.data.groups.some((g: any) => g.name === 'gmail-oauth-expiry')
  }, 60_000, 250)
  return m
}
