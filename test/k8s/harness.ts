/**
 * A real, throwaway Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver (RBAC,
 * token-file admin), kube-controller-manager and kwok with one fake node. No vitest here:
 * the integration globalSetup and `npm run demo` both call `startControlPlane`.
 *
 *   const plane = await startControlPlane()          // builds the binaries on first use
 *   try {
 *     await applyFixtures(plane.kubeconfigPath)      // test/k8s/fixtures.ts
 *     // ... KUBECONFIG=plane.kubeconfigPath ...
 *   } finally {
 *     await plane.stop()                             // children by pid, reverse order; temp dirs removed
 *   }
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { apiCall, type ApiTarget } from './api.ts'
import { ensureBinaries } from './binaries.ts'
import { freePort, startComponent, stopComponent, waitUntil, componentError, type Component } from './processes.ts'

export interface ControlPlaneOptions {
  /** Directory with the four binaries; default: `$CREDFLOW_K8S_BIN` or test/k8s/build.sh. */
  binDir?: string
  /** Progress lines (build output, phases); default: stderr. */
  onProgress?: (line: string) => void
  /** Keep the temp dirs (logs, etcd data) after stop, for debugging. Default `$CREDFLOW_KEEP_PLANE`. */
  keep?: boolean
  /** Name of the kwok-managed node. */
  nodeName?: string
  /**
   * More kube-controller-manager flags. The bench's BENCH_KCM_FLAGS (e.g. a higher
   * --kube-api-qps) shows how much of a fan-out's time is the controllers' own pace.
   */
  controllerManagerFlags?: string[]
}

export interface ControlPlane {
  kubeconfigPath: string
  /** `https://127.0.0.1:<port>` */
  server: string
  /** Bearer token of `admin` (group system:masters). */
  adminToken: string
  /** The apiserver's self-signed serving cert bundle, usable as certificate-authority. */
  caFile: string
  runDir: string
  /** etcd's data directory (in /dev/shm when writable): removed by stop() like runDir. */
  etcdDir: string
  nodeName: string
  components: ReadonlyArray<{ name: string; pid: number; logFile: string }>
  /** Milliseconds per startup phase, and `total`. */
  timings: Record<string, number>
  /** Stops the children by pid in reverse start order, then removes the temp dirs. Idempotent. */
  stop(): Promise<void>
}

export const CONTEXT_NAME = 'credflow-test'
const READY_TIMEOUT_MS = 90_000
const KWOK_STAGES = join(dirname(fileURLToPath(import.meta.url)), 'kwok-stages.yaml')

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const progress = opts.onProgress ?? ((l: string) => process.stderr.write(l + '\n'))
  const keep = opts.keep ?? !!process.env.CREDFLOW_KEEP_PLANE
  const nodeName = opts.nodeName ?? 'kwok-node-0'
  const binDir = opts.binDir ?? (await ensureBinaries(progress))
  const bin = (name: string) => join(binDir, name)

  const t0 = Date.now()
  const timings: Record<string, number> = {}
  const mark = (phase: string, since: number) => (timings[phase] = Date.now() - since)

  const runDir = mkdtempSync(join(tmpdir(), 'credflow-plane-'))
  const etcdDir = mkdtempSync(join(shmWritable() ? '/dev/shm' : runDir, 'credflow-etcd-'))
  const components: Component[] = []
  let stopped = false
  const killOnExit = () => {
    // Last resort if the caller never reaches stop(): synchronous, pid-only.
    for (const c of components) if (!c.exited) try { process.kill(c.pid, 'SIGKILL') } catch {}
    if (!keep) removeDirs()
  }
  const removeDirs = () => {
    rmSync(etcdDir, { recursive: true, force: true })
    rmSync(runDir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)

  const stopChildren = async () => {
    if (stopped) return false
    stopped = true
    for (const c of [...components].reverse()) await stopComponent(c)
    process.removeListener('exit', killOnExit)
    return true
  }
  const stop = async () => {
    if ((await stopChildren()) && !keep) removeDirs()
  }

  try {
    const [etcdPort, peerPort, apiPort] = await distinctFreePorts(3)
    const adminToken = randomBytes(24).toString('hex')
    const server = `https://127.0.0.1:${apiPort}`
    const pki = join(runDir, 'pki')
    const caFile = join(pki, 'apiserver.crt')
    const saKey = join(runDir, 'sa.key')
    const tokenFile = join(runDir, 'tokens.csv')
    const kubeconfigPath = join(runDir, 'kubeconfig.yaml')
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    // token,user,uid,"groups" — read once at apiserver start.
    writeFileSync(tokenFile, `${adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 })
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, caFile, adminToken), { mode: 0o600 })
    const log = (name: string) => join(runDir, `${name}.log`)

    let t = Date.now()
    progress(`[plane] starting etcd on 127.0.0.1:${etcdPort} (data in ${etcdDir})`)
    const etcdUrl = `http://127.0.0.1:${etcdPort}`
    const peerUrl = `http://127.0.0.1:${peerPort}`
    const etcd = startComponent('etcd', bin('etcd'), [
      '--name=n0', `--data-dir=${etcdDir}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=n0=${peerUrl}`,
      '--unsafe-no-fsync=true', '--log-level=warn',
    ], log('etcd'))
    components.push(etcd)
    await waitUntil(etcd, 'healthy', async () => (await (await fetch(`${etcdUrl}/health`)).json()).health === 'true', 30_000)
    mark('etcd', t)

    t = Date.now()
    progress(`[plane] starting kube-apiserver on ${server}`)
    const apiserver = startComponent('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`, `--cert-dir=${pki}`, `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saKey}`, `--service-account-signing-key-file=${saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24', '--endpoint-reconciler-type=none',
      '--allow-privileged=true', '--profiling=false',
    ], log('kube-apiserver'))
    components.push(apiserver)
    const admin: ApiTarget = { server, token: adminToken, caFile }
    await waitUntil(apiserver, 'ready (/readyz)', async () => (await apiCall(admin, 'GET', '/readyz')).status === 200, READY_TIMEOUT_MS, 250)
    if (!existsSync(caFile)) throw componentError(apiserver, `did not write its serving cert to ${caFile}`)
    mark('kube-apiserver', t)

    t = Date.now()
    progress('[plane] starting kube-controller-manager and kwok')
    const kcm = startComponent('kube-controller-manager', bin('kube-controller-manager'), [
      `--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0',
      '--controllers=deployment-controller,replicaset-controller,serviceaccount-controller,garbage-collector-controller,namespace-controller',
      ...(opts.controllerManagerFlags ?? []),
    ], log('kube-controller-manager'))
    components.push(kcm)
    const kwok = startComponent('kwok', bin('kwok'), [
      `--kubeconfig=${kubeconfigPath}`, '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--manage-nodes-with-label-selector=', '--manage-single-node=',
      '--cidr=10.0.0.0/24', '--node-ip=127.0.0.1', '--node-lease-duration-seconds=40',
      `--config=${KWOK_STAGES}`,
    ], log('kwok'))
    components.push(kwok)

    await createNode(admin, nodeName)
    // The serviceaccount controller creating `default` proves KCM is syncing.
    await waitUntil(kcm, 'syncing (default ServiceAccount)', async () =>
      (await apiCall(admin, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200, READY_TIMEOUT_MS, 200)
    mark('kube-controller-manager', t)
    await waitUntil(kwok, `managing node ${nodeName} (Ready)`, async () => nodeReady(admin, nodeName), READY_TIMEOUT_MS, 200)
    mark('kwok', t)
    timings.total = Date.now() - t0
    progress(`[plane] ready in ${(timings.total / 1000).toFixed(1)}s: ${server} (kubeconfig ${kubeconfigPath})`)

    return {
      kubeconfigPath, server, adminToken, caFile, runDir, etcdDir, nodeName, timings, stop,
      components: components.map(({ name, pid, logFile }) => ({ name, pid, logFile })),
    }
  } catch (e) {
    // The error quotes the failing component's log tail; keep every log for the rest.
    await stopChildren().catch(() => {})
    rmSync(etcdDir, { recursive: true, force: true })
    if (e instanceof Error) e.message += `\n(every component's log is kept in ${runDir}; remove it when done)`
    throw e
  }
}

function kubeconfigYaml(server: string, caFile: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT_NAME, cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: 'admin' } }],
    'current-context': CONTEXT_NAME,
  })
}

async function createNode(admin: ApiTarget, name: string): Promise<void> {
  const res = await apiCall(admin, 'POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  })
  if (res.status !== 201) throw new Error(`creating node ${name}: HTTP ${res.status} ${res.body}`)
}

async function nodeReady(admin: ApiTarget, name: string): Promise<boolean> {
  const res = await apiCall(admin, 'GET', `/api/v1/nodes/${name}`)
  if (res.status !== 200) return false
  const conds: Array<{ type: string; status: string }> = res.json().status?.conditions ?? []
  return conds.some((c) => c.type === 'Ready' && c.status === 'True')
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < n) ports.add(await freePort())
  return [...ports]
}

function shmWritable(): boolean {
  try {
    accessSync('/dev/shm', constants.W_OK)
    return true
  } catch {
    return false
  }
}
