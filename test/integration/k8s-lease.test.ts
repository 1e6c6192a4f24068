// lib/k8s/lease.ts on the real apiserver, as the workflow's ServiceAccount (deploy/rbac.yaml):
// client-go's leader-election rules for a run lock. Acquire and renew are conditional writes;
// a live holder is refused at once and named; a holder that stopped renewing is taken over
// only after this process watched the Lease unchanged for its whole duration, on its own
// clock, whatever the clocks of the hosts say; a provably dead holder on this host at once.
import { describe, it, expect, beforeAll, afterAll, beforeEach, inject } from 'vitest'
import { spawnSync } from 'node:child_process'
import { hostname } from 'node:os'
import { connect, type Kube } from '../../lib/k8s/client.ts'
import { LeaseLock, LeaseHeldError, LeaseClient, leaseTiming, type HolderInfo } from '../../lib/k8s/lease.ts'
import { ServerClock } from '../../lib/k8s/server-clock.ts'
import { staleReason, bootId, processStartTime } from '../../lib/engine/lock.ts'
import { OpsError } from '../../lib/errors.ts'
import { resetFixtures, FIXTURE } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig } from '../k8s/service-account.ts'

const kubeconfig = inject('kubeconfig')
const ref = { namespace: FIXTURE.namespace, name: FIXTURE.lease }
let tool: Kube
let admin: Kube

const holderGone = (h: HolderInfo) => staleReason({ host: h.host, pid: h.pid, bootId: h.bootId, procStart: h.procStart })
const me = (over: Partial<HolderInfo> = {}): HolderInfo => ({ host: hostname(), pid: process.pid, runId: '20261203T090000Z-aaaa', frontDoor: 'ssh shell', bootId: bootId(), procStart: processStartTime(process.pid), ...over })
const hint = () => 'hint'
/** A lock with a 3 s Lease; `clock` stands for the host's wall clock. */
const lockOf = (identity: string, holder: HolderInfo, o: { clockOffsetMs?: number; durationMs?: number } = {}) =>
  new LeaseLock(tool, ref, { identity, holder, timing: leaseTiming(o.durationMs ?? 3000), holderGone }, new ServerClock(() => Date.now() + (o.clockOffsetMs ?? 0)))

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e) => e)
}

beforeAll(async () => {
  await resetFixtures(kubeconfig)
  admin = await connect({ kubeconfig })
  tool = await connect({ kubeconfig: await serviceAccountKubeconfig(kubeconfig, { namespace: FIXTURE.namespace, name: FIXTURE.serviceAccount }) })
})
beforeEach(async () => {
  const k8s = await import('@kubernetes/client-node')
  await admin.kc.makeApiClient(k8s.CoordinationV1Api).deleteNamespacedLease(ref).catch(() => {})
})
afterAll(async () => {
  await resetFixtures(kubeconfig)
})

describe('acquire, renew, release', () => {
  it('creates the Lease on first use, renews it on the server clock, and releases it by clearing holderIdentity', async () => {
    const a = lockOf('host-a_1', me())
    await a.acquire(undefined, hint)
    const c = new LeaseClient(admin, ref)
    const first = (await c.get())!
    expect(first.record).toMatchObject({ holderIdentity: 'host-a_1', leaseDurationSeconds: 3, leaseTransitions: 0, holder: { host: hostname(), pid: process.pid, frontDoor: 'ssh shell' } })
    // MicroTime, six digits, within a few seconds of the apiserver's Date.
    expect(first.record.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    expect(Math.abs(Date.parse(first.record.renewTime!) - c.clock.now())).toBeLessThan(3000)
    a.startRenewing()
    await new Promise((r) => setTimeout(r, 1500))
    const renewed = (await c.get())!
    expect(renewed.record.renewTime).not.toBe(first.record.renewTime)
    expect(renewed.record.acquireTime).toBe(first.record.acquireTime)
    await a.release()
    const released = (await c.get())!
    expect(released.record.holderIdentity).toBe('')
    expect(released.record.holder).toBeUndefined()
    expect(a.lost.aborted).toBe(false)
    // A released Lease is taken at once by the next run, one holder change later.
    const waited: string[] = []
    const b = new LeaseLock(tool, ref, { identity: 'host-b_2', holder: me({ host: 'host-b' }), timing: leaseTiming(3000), holderGone, log: (l: string) => waited.push(l) }, new ServerClock())
    await b.acquire(undefined, hint)
    // Taken at once: no watching of a holder that might still renew, no take-over of one.
    expect(waited).toEqual([])
    expect(b.tookOver).toBeUndefined()
    expect((await c.get())!.record).toMatchObject({ holderIdentity: 'host-b_2', leaseTransitions: 1 })
    await b.release()
  })

  it('released while a renewal is in flight: the release waits for it and still clears the Lease (no 409 leaving it held)', async () => {
    const a = lockOf('host-a_3', me())
    await a.acquire(undefined, hint)
    // Hold the next renewal's PUT on its way until release() has been called.
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    let renewalStarted!: () => void
    const started = new Promise<void>((r) => (renewalStarted = r))
    const update = a.client.update.bind(a.client)
    a.client.update = async (...args: Parameters<typeof update>) => {
      if (args[0].holderIdentity === 'host-a_3') {
        renewalStarted()
        await released
      }
      return update(...args)
    }
    a.startRenewing()
    await started
    const done = a.release()
    release()
    await done
    const c = new LeaseClient(admin, ref)
    expect((await c.get())!.record.holderIdentity).toBe('')
    expect(a.lost.aborted).toBe(false)
  })

  it('of two runs racing for a free Lease, exactly one gets it (resourceVersion preconditions)', async () => {
    const locks = Array.from({ length: 4 }, (_, i) => lockOf(`racer_${i}`, me({ host: `racer-${i}` })))
    const results = await Promise.all(locks.map((l) => l.acquire(undefined, hint).then(() => 'won', (e) => (e instanceof LeaseHeldError ? 'held' : String(e)))))
    expect(results.filter((r) => r === 'won')).toHaveLength(1)
    expect(results.filter((r) => r === 'held')).toHaveLength(3)
    await Promise.all(locks.map((l) => l.release()))
  })
})

describe('a Lease held by another run', () => {
  it('is refused at once while its holder renews, naming host, pid, run, front door and since when', async () => {
    const a = lockOf('forgejo_7', me({ host: 'runner-1', pid: 4242, runId: '20261203T091500Z-beef', frontDoor: 'Forgejo (ops/credflow run #12)' }))
    await a.acquire(undefined, hint)
    a.startRenewing()
    try {
      const t0 = Date.now()
      const e = await rejection(lockOf('ssh_8', me()).acquire(undefined, () => 'wait for it'))
      expect(Date.now() - t0).toBeLessThan(1500)
      expect(e).toBeInstanceOf(LeaseHeldError)
      const msg = (e as LeaseHeldError).message
      expect(msg).toMatch(/another run holds Lease basketball-api\/credflow-gmail-oauth-token: pid 4242 on runner-1, run 20261203T091500Z-beef, started from Forgejo \(ops\/credflow run #12\), holding since \S+Z \(\S+ ago\), last renewed \S+ ago/)
      expect((e as LeaseHeldError).hint).toBe('wait for it')
    } finally {
      await a.release()
    }
  })

  it('whose holder on another host stopped renewing is taken over only after a full lease duration watched unchanged', async () => {
    const a = lockOf('dead-host_1', me({ host: 'dead-host', pid: 99999 }))
    await a.acquire(undefined, hint) // never renewed: the host "died" here
    // Within its duration it still counts as live.
    expect(await rejection(lockOf('b_2', me()).acquire(undefined, hint))).toBeInstanceOf(LeaseHeldError)
    await new Promise((r) => setTimeout(r, 4500)) // renewTime now lapsed by the server's clock (Date has whole seconds)
    const b = lockOf('b_3', me())
    const t0 = performance.now()
    await b.acquire(undefined, hint)
    const waited = performance.now() - t0
    expect(waited).toBeGreaterThanOrEqual(3000) // watched it for the whole duration itself
    expect(b.tookOver).toMatch(/took over Lease basketball-api\/credflow-gmail-oauth-token from pid 99999 on dead-host.*not renewed for 3s as watched from here/)
    expect((await new LeaseClient(admin, ref).get())!.record).toMatchObject({ holderIdentity: 'b_3', leaseTransitions: 1 })
    await b.release()
  })

  it('renewed while being watched is refused (the holder was alive, only slow or skewed)', async () => {
    const a = lockOf('slow_1', me({ host: 'slow-host' }), { clockOffsetMs: -60_000 })
    await a.acquire(undefined, hint)
    // Its renewTime is on the server's clock whatever its own says; make it look lapsed by waiting, then renew during the watch.
    await new Promise((r) => setTimeout(r, 4500))
    const watching = rejection(lockOf('b_4', me()).acquire(undefined, hint))
    await new Promise((r) => setTimeout(r, 1000))
    expect(await a.tryAcquireOrRenew(undefined, () => false)).toBe(true)
    expect(await watching).toBeInstanceOf(LeaseHeldError)
    await a.release()
  })

  it('whose holder ran on this host and is provably dead is taken over at once', async () => {
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' })
    const deadPid = Number(child.stdout.trim())
    const a = lockOf('crashed_1', me({ pid: deadPid, procStart: '1' }), { durationMs: 60_000 })
    await a.acquire(undefined, hint)
    const b = lockOf('resumed_2', me())
    const t0 = Date.now()
    await b.acquire(undefined, hint)
    expect(Date.now() - t0).toBeLessThan(1500)
    expect(b.tookOver).toMatch(new RegExp(`from pid ${deadPid} on ${hostname()}.*no longer running|belongs to another process`))
    await b.release()
  })

  it('skewed clocks both ways change nothing: the times written are the server\'s', async () => {
    const ahead = lockOf('ahead_1', me({ host: 'ahead' }), { clockOffsetMs: 10 * 60_000 })
    await ahead.acquire(undefined, hint)
    const c = new LeaseClient(admin, ref)
    const rec = (await c.get())!.record
    expect(Math.abs(Date.parse(rec.renewTime!) - c.clock.now())).toBeLessThan(3000)
    // A host 10 minutes behind still sees it as freshly renewed: refused, not taken over.
    const behind = lockOf('behind_2', me({ host: 'behind' }), { clockOffsetMs: -10 * 60_000 })
    const t0 = Date.now()
    expect(await rejection(behind.acquire(undefined, hint))).toBeInstanceOf(LeaseHeldError)
    expect(Date.now() - t0).toBeLessThan(1500)
    await ahead.release()
  })
})

describe('losing the Lease stops the run', () => {
  it('aborts `lost` when another writer took the Lease', async () => {
    const a = lockOf('a_1', me())
    await a.acquire(undefined, hint)
    a.startRenewing()
    const c = new LeaseClient(admin, ref)
    const cur = (await c.get())!
    await c.update({ ...cur.record, holderIdentity: 'intruder', holder: { host: 'elsewhere', pid: 1 } }, cur.resourceVersion)
    await new Promise<void>((resolve) => (a.lost.aborted ? resolve() : a.lost.addEventListener('abort', () => resolve())))
    expect((a.lost.reason as OpsError).message).toMatch(/another run took Lease basketball-api\/credflow-gmail-oauth-token: pid 1 on elsewhere/)
    await a.release() // must not clear the intruder's hold
    expect((await c.get())!.record.holderIdentity).toBe('intruder')
  })
})

describe('RBAC (deploy/rbac.yaml)', () => {
  it("lets the ServiceAccount write only its own Lease by name (create cannot be pinned)", async () => {
    const other = new LeaseClient(tool, { namespace: FIXTURE.namespace, name: 'someone-elses-lease' })
    const k8s = await import('@kubernetes/client-node')
    const api = admin.kc.makeApiClient(k8s.CoordinationV1Api)
    await api.createNamespacedLease({ namespace: FIXTURE.namespace, body: { metadata: { name: 'someone-elses-lease' }, spec: { holderIdentity: 'x' } } })
    try {
      const e = await rejection(other.get())
      expect(e).toBeInstanceOf(OpsError)
      expect((e as OpsError).reason).toBe('Forbidden')
      expect((e as OpsError).message).toMatch(/get.*leases|leases.*get/)
    } finally {
      await api.deleteNamespacedLease({ namespace: FIXTURE.namespace, name: 'someone-elses-lease' })
    }
    await new LeaseClient(tool, ref).checkWritable()
  })
})
