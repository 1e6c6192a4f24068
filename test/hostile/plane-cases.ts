/**
 * Hostile cases against the real test plane and the Google stand-in
 * (test/integration/hostile-plane.test.ts runs them one at a time: they share the plane).
 * Each puts the world in the state under test in `run`, and `after` puts it back.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HostileCase } from './case.ts'
import { TARGET, targets, type PlaneSandbox } from './plane.ts'
import { FIXTURE, resetFixtures } from '../k8s/fixtures.ts'
import { LEASE_RULES, serviceAccountKubeconfig } from '../k8s/service-account.ts'
import { isLeaseRequest } from '../e2e/api-proxy.ts'
import { pidAlive } from '../../lib/atomic-file.ts'

type PlaneCase = HostileCase<PlaneSandbox>

const REFUSED = 'nothing was changed and no run was recorded'
const ns = FIXTURE.namespace
const deploymentPatch = async (s: PlaneSandbox, spec: Record<string, unknown>) => {
  const k8s = await import('@kubernetes/client-node')
  await s.view.apps.patchNamespacedDeployment({ name: FIXTURE.deployment, namespace: ns, body: { spec } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))
}

const HANG_CONSENT = join(tmpdir(), `credflow-hostile-${process.pid}-hang-consent.sh`)
const HANG_PID = `${HANG_CONSENT}.pid`
const BAD_TOKEN = join(tmpdir(), `credflow-hostile-${process.pid}-bad-token.kubeconfig`)
const NOT_EXECUTABLE = join(tmpdir(), `credflow-hostile-${process.pid}-not-executable-consent.sh`)

// What a case changed in `run`, for its `after`.
let replicas = 1
let unwedge: (() => void) | undefined
let runsBefore = 0

export const PLANE_CASES: PlaneCase[] = [
  {
    id: 'P01',
    cls: 1,
    did: 'a target whose staleSecrets names the target Secret itself',
    exit: 2,
    says: ['staleSecrets must not list the Secret being updated', REFUSED],
    run: (s) => ({ args: s.args({ targets: targets({ staleSecrets: [FIXTURE.secret] }) }) }),
  },
  {
    id: 'P02',
    cls: 1,
    did: 'a target with no Deployments to restart',
    exit: 2,
    says: ['lists no Deployment: nothing would restart', REFUSED],
    run: (s) => ({ args: s.args({ targets: targets({ deployments: [] }) }) }),
  },
  {
    id: 'P03',
    cls: 1,
    did: 'the consumer Deployment is scaled to 0',
    exit: 2,
    says: [`Deployment ${ns}/${FIXTURE.deployment} is scaled to 0 replicas: a restart would start no pod`, `kubectl -n ${ns} scale deployment/${FIXTURE.deployment} --replicas=1`, REFUSED],
    async run(s) {
      replicas = (await s.view.deployment()).spec?.replicas ?? 1
      await deploymentPatch(s, { replicas: 0 })
      return { args: s.args() }
    },
    after: (s) => deploymentPatch(s, { replicas }),
  },
  {
    id: 'P04',
    cls: 1,
    did: 'the consumer Deployment is paused (kubectl rollout pause)',
    exit: 2,
    says: [`Deployment ${ns}/${FIXTURE.deployment} is paused: a restart would not roll out`, `kubectl -n ${ns} rollout resume deployment/${FIXTURE.deployment}`, REFUSED],
    async run(s) {
      await deploymentPatch(s, { paused: true })
      return { args: s.args() }
    },
    after: (s) => deploymentPatch(s, { paused: false }),
  },
  {
    id: 'P05',
    cls: 1,
    did: 'two targets naming the same namespace and Secret',
    exit: 2,
    says: [`targets[0] and targets[1] both have namespace "${ns}"`, 'so the two would race on the same objects', REFUSED],
    run: (s) => ({ args: s.args({ targets: targets(TARGET, TARGET) }) }),
  },
  {
    id: 'P06',
    cls: 1,
    did: 'the target Secret is immutable',
    exit: 2,
    says: [`Secret ${ns}/${FIXTURE.secret} is immutable: it cannot be updated in place`, 'kubectl replace --force', REFUSED],
    async run(s) {
      const k8s = await import('@kubernetes/client-node')
      await s.view.core.patchNamespacedSecret({ name: FIXTURE.secret, namespace: ns, body: { immutable: true } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))
      return { args: s.args() }
    },
    after: (s) => resetFixtures(s.admin), // an immutable Secret can only be deleted and made again
  },
  {
    id: 'P07',
    cls: 1,
    did: "a ServiceAccount whose Role lacks patch on the Deployment (restart's verb)",
    exit: 2,
    says: [`may not patch deployments.apps/${FIXTURE.deployment} in namespace "${ns}"`, `kubectl auth can-i patch deployments.apps/${FIXTURE.deployment} -n ${ns}`, REFUSED],
    async run(s) {
      const kubeconfig = await serviceAccountKubeconfig(s.admin, {
        namespace: ns,
        name: 'hostile-no-patch',
        dir: tmpdir(),
        rules: [
          ...LEASE_RULES,
          { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'delete', 'update'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] },
          { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['list'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        ],
      })
      return { args: s.args({ kubeconfig }) }
    },
  },
  {
    id: 'P08',
    cls: 1,
    did: 'a target key the Secret does not have (gmail-token.json for gmail-westsidebasketball.json)',
    exit: 2,
    says: [`Secret ${ns}/${FIXTURE.secret} has no key "gmail-token.json" (it has: ${FIXTURE.key})`, 'is the key misspelled?', REFUSED],
    run: (s) => ({ args: s.args({ targets: targets({ key: 'gmail-token.json' }) }) }),
  },
  {
    id: 'P09',
    cls: 2,
    did: 'the apiserver accepts connections and never answers, --request-timeout 2s',
    exit: 1,
    says: [/COULD NOT CHECK: no answer from http:\/\/127\.0\.0\.1:\d+ \(context "proxied"\) within 2s to get version \(request timeout\)/, '--request-timeout=2s get --raw=/readyz', 'nothing was changed'],
    run(s) {
      unwedge = s.proxy.wedge(() => true)
      return { args: [...s.args(), '--request-timeout', '2s'], deadlineMs: 40_000 }
    },
    after: () => unwedge?.(),
  },
  {
    id: 'P10',
    cls: 2,
    did: 'the apiserver stops answering after the preflight (at the Lease), --request-timeout 2s',
    exit: 1,
    says: ["cannot take the workflow's lock (k8s/lease)", /no answer from http:\/\/127\.0\.0\.1:\d+ \(context "proxied"\) within 2s to get leases "credflow-gmail-oauth-token"/, 'nothing was changed', '--request-timeout=2s get --raw=/readyz'],
    // The state directory may come into being (the lock file's), but no run is recorded.
    mayChange: ['state'],
    run(s) {
      runsBefore = s.env.runs().length
      unwedge = s.proxy.wedge(isLeaseRequest)
      return { args: [...s.args(), '--request-timeout', '2s'], deadlineMs: 40_000 }
    },
    check(s) {
      if (s.env.runs().length !== runsBefore) throw new Error('a run was recorded although the lock was never taken')
    },
    after: () => unwedge?.(),
  },
  {
    id: 'P11',
    cls: 2,
    did: "Google's token endpoint accepts and never answers, requestTimeout 1s",
    takesLock: true,
    exit: 1,
    says: [
      /\[reauth\] refresh the access token: no answer from http:\/\/127\.0\.0\.1:\d+\/token within 1\.0s \(request timeout\); attempt 1 of 3, [\d.]+m?s so far: retrying in 500ms/,
      /FAILED in [\d.]+s: refresh the access token: no answer from http:\/\/127\.0\.0\.1:\d+\/token within 1\.0s \(request timeout\) \(tried 3 times over [\d.]+s\)/,
      "curl -sS -m 10 -o /dev/null -w '%{http_code}' http://127.0.0.1:",
    ],
    mayChange: ['state'],
    run(s) {
      s.env.standIn.control.injectTokenFaults({ delayMs: 60_000, count: 3 })
      return { args: s.args({ requestTimeout: '1s' }), deadlineMs: 40_000 }
    },
  },
  {
    id: 'P12',
    cls: 2,
    did: 'the reauth command hangs; SIGTERM stops it and its child',
    takesLock: true,
    exit: 130,
    says: [/\[reauth\] running \S+hang-consent\.sh/, 'credflow: SIGTERM: stopping running steps'],
    mayChange: ['state'],
    run(s) {
      // It says when its pid is written: a SIGTERM at "[reauth] running" could beat that on a loaded machine.
      writeFileSync(HANG_CONSENT, `#!/bin/sh\necho $$ > ${HANG_PID}\necho "hang-consent: waiting for a browser"\nexec sleep 600\n`, { mode: 0o755 })
      return {
        args: s.args({ reauthMode: 'external', reauthCommand: HANG_CONSENT, reauthAfter: '0s' }, '--yes', '--interactive'),
        signal: { name: 'SIGTERM', after: /hang-consent: waiting for a browser/ },
        deadlineMs: 40_000,
      }
    },
    async check() {
      const pid = Number(readFileSync(HANG_PID, 'utf8'))
      const deadline = Date.now() + 5000
      while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      if (pidAlive(pid)) {
        process.kill(pid, 'SIGKILL')
        throw new Error(`the reauth command (pid ${pid}) outlived the run`)
      }
    },
  },
  {
    id: 'P13',
    cls: 1,
    did: 'reauthMode=external with a reauthCommand that is not on PATH',
    exit: 2,
    says: ['REFUSED: reauthCommand "no-such-consent-tool reauth" cannot run: no-such-consent-tool is not on PATH', 'working alternatives: (1) the built-in consent', REFUSED],
    run: (s) => ({ args: s.args({ reauthMode: 'external', reauthCommand: 'no-such-consent-tool reauth' }) }),
  },
  {
    id: 'P14',
    cls: 1,
    did: 'reauthMode=external with a reauthCommand file that is not executable',
    exit: 2,
    says: [/REFUSED: reauthCommand "\S+not-executable-consent\.sh" cannot run: \S+not-executable-consent\.sh does not exist or is not executable/, REFUSED],
    run(s) {
      writeFileSync(NOT_EXECUTABLE, '#!/bin/sh\nexit 0\n', { mode: 0o644 })
      chmodSync(NOT_EXECUTABLE, 0o644)
      return { args: s.args({ reauthMode: 'external', reauthCommand: NOT_EXECUTABLE }) }
    },
  },
  // 1: the kubeconfig and the targets judged against the real cluster, before any write
  {
    id: 'P15',
    cls: 1,
    did: '--set context=nope (a context the kubeconfig does not have)',
    exit: 2,
    says: [/context "nope" not found in \S+ \(known: proxied\)/, 'kubectl config get-contexts; then --set context=<name>', REFUSED],
    run: (s) => ({ args: s.args({ context: 'nope' }) }),
  },
  {
    id: 'P16',
    cls: 1,
    did: 'a kubeconfig whose token the apiserver rejects',
    exit: 2,
    says: ['Unauthorized: the server rejected our credentials while trying to get version', 'kubectl --context proxied auth whoami', REFUSED],
    run(s) {
      writeFileSync(BAD_TOKEN, readFileSync(s.proxy.kubeconfig, 'utf8').replace(/token: .*/, 'token: not-a-token-of-this-cluster'), { mode: 0o600 })
      return { args: s.args({ kubeconfig: BAD_TOKEN }) }
    },
    after: () => rmSync(BAD_TOKEN, { force: true }),
  },
  {
    id: 'P17',
    cls: 1,
    did: 'a target in a namespace that does not exist',
    exit: 2,
    says: ['[update-secret[nope-ns]] REFUSED: namespace "nope-ns" does not exist', 'kubectl get namespaces', REFUSED],
    run: (s) => ({ args: s.args({ targets: targets({ namespace: 'nope-ns' }) }) }),
  },
  {
    id: 'P18',
    cls: 1,
    did: 'a target Deployment that does not exist',
    exit: 2,
    says: [`Deployment ${ns}/no-such-deploy does not exist (Deployments in ${ns}: ${FIXTURE.deployment}, ${FIXTURE.worker}): the new token would reach no pod`, REFUSED],
    run: (s) => ({ args: s.args({ targets: targets({ deployments: ['no-such-deploy'] }) }) }),
  },
]
