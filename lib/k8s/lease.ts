/**
 * A coordination.k8s.io/v1 Lease as a cross-host run lock, with client-go's leader-election
 * semantics (k8s.io/client-go/tools/leaderelection): acquire and renew are conditional
 * writes (the resourceVersion of our last read, so of two writers one gets 409 Conflict),
 * release clears holderIdentity, and a Lease held by someone else is taken over only after
 * this process itself watched it unchanged for leaseDurationSeconds, timed on its own
 * monotonic clock. No host's wall clock is trusted for that decision, so clock skew between
 * hosts cannot make a live holder look expired.
 *
 * The times the holder writes (acquireTime, renewTime) are on the apiserver's clock as this
 * process estimates it from each response's Date header: they read the same from every host.
 */
import type { V1Lease } from '@kubernetes/client-node'
import { setTimeout as sleep } from 'node:timers/promises'
import { OpsError } from '../errors.ts'
import { formatDuration } from '../duration.ts'
import { callOptions, type Kube } from './client.ts'
import { isAlreadyExists, isConflict, isNotFound } from './errors.ts'
import { ServerClock } from './server-clock.ts'

/** Who holds the Lease, in words an operator can act on (JSON in one annotation). */
export const HOLDER_ANNOTATION = 'credflow.dev/holder'

export interface LeaseRef {
  namespace: string
  name: string
}

/** What a holder writes about itself. Names and numbers only. */
export interface HolderInfo {
  host: string
  pid: number
  runId?: string
  /** How the run was started: `ssh shell`, `wrapper`, `Forgejo`, `terminal`... */
  frontDoor?: string
  /** /proc/sys/kernel/random/boot_id and the process start time: a dead pid on the same host is provable. */
  bootId?: string
  procStart?: string
  stateDir?: string
}

export interface LeaseRecord {
  /** Empty when free (released). */
  holderIdentity: string
  leaseDurationSeconds: number
  acquireTime?: string
  renewTime?: string
  leaseTransitions: number
  holder?: HolderInfo
}

export interface ObservedLease {
  record: LeaseRecord
  resourceVersion: string
  /** Everything that changes on a renewal: a different value means the holder is alive. */
  fingerprint: string
}

export interface LeaseTiming {
  /** leaseDurationSeconds: how long a Lease unrenewed is honoured. */
  durationMs: number
  /** How often the holder renews (client-go's retryPeriod). */
  renewEveryMs: number
  /** The holder gives up (stops the run) when it could not renew for this long (client-go's renewDeadline, < durationMs). */
  renewDeadlineMs: number
}

export function leaseTiming(durationMs: number): LeaseTiming {
  const d = Math.max(durationMs, 3000)
  // client-go's defaults keep the same proportions (15s / 10s / 2s): renew often, give up
  // well before another host may take over.
  return { durationMs: d, renewEveryMs: Math.max(500, Math.floor(d / 6)), renewDeadlineMs: Math.floor((d * 2) / 3) }
}

export function describeHolder(r: LeaseRecord, serverNow: number): string {
  const h = r.holder
  const who = h ? `pid ${h.pid} on ${h.host}${h.runId ? `, run ${h.runId}` : ''}${h.frontDoor ? `, started from ${h.frontDoor}` : ''}` : r.holderIdentity
  const since = r.acquireTime ? `, holding since ${r.acquireTime.replace(/\.\d+Z$/, 'Z')} (${formatDuration(Math.max(0, serverNow - Date.parse(r.acquireTime)))} ago)` : ''
  const renewed = r.renewTime ? `, last renewed ${formatDuration(Math.max(0, serverNow - Date.parse(r.renewTime)))} ago` : ''
  return `${who}${since}${renewed}`
}

function toRecord(l: V1Lease): ObservedLease {
  const s = l.spec ?? {}
  let holder: HolderInfo | undefined
  try {
    const raw = l.metadata?.annotations?.[HOLDER_ANNOTATION]
    holder = raw ? (JSON.parse(raw) as HolderInfo) : undefined
  } catch {
    holder = undefined
  }
  const time = (t: unknown) => (t === undefined || t === null ? undefined : t instanceof Date ? t.toISOString() : String(t))
  const record: LeaseRecord = {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: time(s.acquireTime),
    renewTime: time(s.renewTime),
    leaseTransitions: s.leaseTransitions ?? 0,
    holder,
  }
  const resourceVersion = l.metadata?.resourceVersion ?? ''
  return { record, resourceVersion, fingerprint: JSON.stringify([record.holderIdentity, record.renewTime, record.acquireTime, record.leaseTransitions, l.metadata?.annotations?.[HOLDER_ANNOTATION]]) }
}

function toBody(ref: LeaseRef, r: LeaseRecord, resourceVersion?: string): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      resourceVersion,
      labels: { 'app.kubernetes.io/managed-by': 'credflow' },
      annotations: r.holder ? { [HOLDER_ANNOTATION]: JSON.stringify(r.holder) } : {},
    },
    // MicroTime strings go through client-node untouched; a Date would be sent with 3 digits.
    spec: {
      holderIdentity: r.holderIdentity || undefined,
      leaseDurationSeconds: r.leaseDurationSeconds,
      acquireTime: r.acquireTime as any,
      renewTime: r.renewTime as any,
      leaseTransitions: r.leaseTransitions,
    },
  }
}

/** The Lease API calls, each feeding the server clock from the response's Date header. */
export class LeaseClient {
  readonly clock: ServerClock
  #api: Promise<import('@kubernetes/client-node').CoordinationV1Api>
  readonly kube: Kube
  readonly ref: LeaseRef
  constructor(kube: Kube, ref: LeaseRef, clock?: ServerClock) {
    this.kube = kube
    this.ref = ref
    this.clock = clock ?? new ServerClock()
    // The connection's client: every request bounded by the request timeout, like the others.
    this.#api = Promise.resolve(kube.coordination)
  }
  #sentAt = 0
  #opts(signal?: AbortSignal) {
    const sentAt = (this.#sentAt = this.clock.local())
    return callOptions({ signal, onResponse: (headers) => this.clock.observe(headers['date'], sentAt, this.clock.local()) })
  }
  /** Error answers carry a Date too (client-node runs no response middleware for them). */
  #observeError(e: unknown): void {
    const headers = (e as { headers?: Record<string, string> })?.headers
    if (headers && typeof headers === 'object') this.clock.observe(headers['date'], this.#sentAt, this.clock.local())
  }
  async get(signal?: AbortSignal): Promise<ObservedLease | undefined> {
    try {
      return toRecord(await (await this.#api).readNamespacedLease(this.ref, this.#opts(signal)))
    } catch (e) {
      this.#observeError(e)
      if (isNotFound(e)) return undefined
      throw this.kube.error(e, { verb: 'get', resource: 'leases', ...this.ref })
    }
  }
  async create(r: LeaseRecord, signal?: AbortSignal): Promise<ObservedLease> {
    try {
      return toRecord(await (await this.#api).createNamespacedLease({ namespace: this.ref.namespace, body: toBody(this.ref, r), fieldManager: 'credflow' }, this.#opts(signal)))
    } catch (e) {
      throw this.kube.error(e, { verb: 'create', resource: 'leases', ...this.ref })
    }
  }
  /** PUT with the resourceVersion we read: 409 Conflict when anyone wrote it since. */
  async update(r: LeaseRecord, resourceVersion: string, signal?: AbortSignal): Promise<ObservedLease> {
    try {
      return toRecord(await (await this.#api).replaceNamespacedLease({ ...this.ref, body: toBody(this.ref, r, resourceVersion), fieldManager: 'credflow' }, this.#opts(signal)))
    } catch (e) {
      throw this.kube.error(e, { verb: 'update', resource: 'leases', ...this.ref })
    }
  }
  /** Server-side dry run of the writes acquire makes (RBAC, admission): for a plan. */
  async checkWritable(signal?: AbortSignal): Promise<void> {
    const api = await this.#api
    const live = await this.get(signal)
    const body = toBody(this.ref, live?.record ?? { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 }, live?.resourceVersion)
    try {
      if (live) await api.replaceNamespacedLease({ ...this.ref, body, dryRun: 'All' }, this.#opts(signal))
      else await api.createNamespacedLease({ namespace: this.ref.namespace, body, dryRun: 'All' }, this.#opts(signal))
    } catch (e) {
      throw this.kube.error(e, { verb: live ? 'update' : 'create', resource: 'leases', ...this.ref, dryRun: true })
    }
  }
}

/** Another run holds the Lease: exit code 3. */
export class LeaseHeldError extends OpsError {
  readonly observed: ObservedLease
  constructor(message: string, observed: ObservedLease, hint: string) {
    super(message, { reason: 'LeaseHeld', hint })
    this.observed = observed
  }
}

export interface LeaseLockOptions {
  identity: string
  holder: HolderInfo
  timing: LeaseTiming
  /** Why a holder on this host is provably gone (dead pid, rebooted), or undefined. */
  holderGone?: (h: HolderInfo) => string | undefined
  /** Monotonic milliseconds (the observation clock). */
  monotonic?: () => number
  log?: (line: string) => void
}

/** One Lease held by this process: acquire, renew in the background, release. */
export class LeaseLock {
  #observed: ObservedLease | undefined
  /** Monotonic time at which #observed last changed (client-go's observedTime). */
  #observedAt = 0
  #renewTimer: NodeJS.Timeout | undefined
  #lastRenew = 0
  #lost = new AbortController()
  #released = false
  /** Set when acquiring took the Lease over from another holder: what to tell the operator. */
  tookOver: string | undefined
  readonly client: LeaseClient
  readonly o: Required<Omit<LeaseLockOptions, 'holderGone' | 'log'>> & Pick<LeaseLockOptions, 'holderGone' | 'log'>

  readonly ref: LeaseRef
  constructor(kube: Kube, ref: LeaseRef, opts: LeaseLockOptions, clock?: ServerClock) {
    this.ref = ref
    this.client = new LeaseClient(kube, ref, clock)
    this.o = { monotonic: () => performance.now(), ...opts }
  }

  /** Aborted when this process can no longer claim the Lease: the work it guards must stop. */
  get lost(): AbortSignal {
    return this.#lost.signal
  }

  get isLeader(): boolean {
    return this.#observed?.record.holderIdentity === this.o.identity
  }

  #setObserved(o: ObservedLease): void {
    if (o.fingerprint !== this.#observed?.fingerprint) this.#observedAt = this.o.monotonic()
    this.#observed = o
  }

  #mine(prev?: LeaseRecord): LeaseRecord {
    const now = this.client.clock.microTime()
    const keep = prev && prev.holderIdentity === this.o.identity
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.o.timing.durationMs / 1000),
      acquireTime: keep ? prev.acquireTime : now,
      renewTime: now,
      leaseTransitions: prev ? (keep ? prev.leaseTransitions : prev.leaseTransitions + 1) : 0,
      holder: this.o.holder,
    }
  }

  /**
   * client-go's tryAcquireOrRenew: true when we hold the Lease after this call. A Lease held
   * by another identity is taken only when `mayTakeOver` says so (expired as observed by us,
   * or its holder provably gone).
   */
  async tryAcquireOrRenew(signal: AbortSignal | undefined, mayTakeOver: (o: ObservedLease) => boolean): Promise<boolean> {
    let cur = await this.client.get(signal)
    if (!cur) {
      try {
        this.#setObserved(await this.client.create(this.#mine(), signal))
        return true
      } catch (e) {
        if (!isAlreadyExists(e)) throw e
        // Someone created it between our read and our create: that run holds it now.
        const won = await this.client.get(signal)
        if (won) this.#setObserved(won)
        return false
      }
    }
    this.#setObserved(cur)
    const r = cur.record
    if (r.holderIdentity && r.holderIdentity !== this.o.identity && !mayTakeOver(cur)) return false
    try {
      this.#setObserved(await this.client.update(this.#mine(r), cur.resourceVersion, signal))
      return true
    } catch (e) {
      if (isConflict(e)) return false // it changed since our read: someone else won this round
      throw e
    }
  }

  /** Watched unchanged for a whole lease duration on our own clock (client-go's isLeaseValid, negated). */
  expiredAsObserved(o: ObservedLease): boolean {
    const d = (o.record.leaseDurationSeconds || Math.ceil(this.o.timing.durationMs / 1000)) * 1000
    return o.fingerprint === this.#observed?.fingerprint && this.o.monotonic() - this.#observedAt >= d
  }

  /**
   * Take the Lease, or throw LeaseHeldError naming the holder. A free or released Lease is
   * taken at once; one whose holder ran on this host and is provably dead, too. A Lease that
   * another host renewed recently is refused at once. One whose renewTime says it lapsed is
   * watched for a full lease duration: unchanged, it is taken over; renewed, refused.
   */
  async acquire(signal: AbortSignal | undefined, hintFor: (o: ObservedLease) => string): Promise<void> {
    const first = await this.client.get(signal)
    let gone: string | undefined
    if (first && first.record.holderIdentity && first.record.holderIdentity !== this.o.identity) {
      gone = first.record.holder ? this.o.holderGone?.(first.record.holder) : undefined
      const serverNow = this.client.clock.now()
      const lapsed = first.record.renewTime ? serverNow - Date.parse(first.record.renewTime) > first.record.leaseDurationSeconds * 1000 : true
      if (!gone && !lapsed) throw this.#held(first, hintFor)
      this.#setObserved(first)
      if (!gone) {
        const wait = first.record.leaseDurationSeconds * 1000
        this.o.log?.(`Lease ${this.ref.namespace}/${this.ref.name} is held by ${describeHolder(first.record, serverNow)}: not renewed within its ${first.record.leaseDurationSeconds}s, so watching it for ${formatDuration(wait)} before taking it over`)
      }
    }
    for (;;) {
      const before = this.#observed
      const ok = await this.tryAcquireOrRenew(signal, (o) => Boolean(gone && o.fingerprint === first?.fingerprint) || this.expiredAsObserved(o))
      if (ok) {
        if (before && before.record.holderIdentity && before.record.holderIdentity !== this.o.identity) {
          this.tookOver = `took over Lease ${this.ref.namespace}/${this.ref.name} from ${describeHolder(before.record, this.client.clock.now())}: ${gone ?? `not renewed for ${before.record.leaseDurationSeconds}s as watched from here`}`
        }
        this.#lastRenew = this.o.monotonic()
        return
      }
      const now = this.#observed!
      // Renewed while we watched (or taken by a third run): a live holder.
      if (first && now.fingerprint !== first.fingerprint) throw this.#held(now, hintFor)
      if (!first) throw this.#held(now, hintFor) // created by another run between our read and our create
      await sleep(Math.min(this.o.timing.renewEveryMs, 1000), undefined, { signal })
    }
  }

  #held(o: ObservedLease, hintFor: (o: ObservedLease) => string): LeaseHeldError {
    return new LeaseHeldError(`another run holds Lease ${this.ref.namespace}/${this.ref.name}: ${describeHolder(o.record, this.client.clock.now())}`, o, hintFor(o))
  }

  /** The renewal in flight, if any (never rejects). */
  #renewal: Promise<unknown> | undefined

  /** Renew every renewEveryMs; when no renewal succeeded for renewDeadlineMs (or someone took the Lease), abort `lost`. */
  startRenewing(): void {
    const tick = async () => {
      if (this.#released) return
      try {
        const signal = AbortSignal.timeout(this.o.timing.renewEveryMs * 2)
        const renewal = this.tryAcquireOrRenew(signal, () => false)
        this.#renewal = renewal.catch(() => false)
        const ok = await renewal
        // Released meanwhile: release() waited for this renewal and cleared the Lease after it.
        if (this.#released) return
        if (ok) this.#lastRenew = this.o.monotonic()
        else if (this.#observed && !this.isLeader) return this.#lose(`another run took Lease ${this.ref.namespace}/${this.ref.name}: ${describeHolder(this.#observed.record, this.client.clock.now())}`)
      } catch {
        // a failed renewal is retried; only the deadline ends the run
      }
      if (this.o.monotonic() - this.#lastRenew > this.o.timing.renewDeadlineMs) {
        return this.#lose(`could not renew Lease ${this.ref.namespace}/${this.ref.name} for ${formatDuration(this.o.timing.renewDeadlineMs)}: another run may take it over, so this one stops`)
      }
      if (!this.#released) this.#renewTimer = setTimeout(tick, this.o.timing.renewEveryMs)
    }
    this.#renewTimer = setTimeout(tick, this.o.timing.renewEveryMs)
    this.#renewTimer.unref?.()
  }

  #lose(why: string): void {
    clearTimeout(this.#renewTimer)
    if (!this.#lost.signal.aborted) this.#lost.abort(new OpsError(why, { reason: 'LeaseLost' }))
  }

  /** client-go's release: holderIdentity cleared, so the next run takes it at once. Best effort. */
  async release(): Promise<void> {
    this.#released = true
    clearTimeout(this.#renewTimer)
    // A renewal in flight would move the resourceVersion under the release's precondition (409:
    // the Lease left held until it expires). Let it land first.
    await this.#renewal
    if (!this.isLeader || this.#lost.signal.aborted) return
    const r = this.#observed!.record
    const now = this.client.clock.microTime()
    try {
      this.#setObserved(
        await this.client.update({ holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: r.leaseTransitions, holder: undefined }, this.#observed!.resourceVersion, AbortSignal.timeout(10_000)),
      )
    } catch {
      // Left held: it expires after leaseDurationSeconds, or the next run on this host sees our pid gone.
    }
  }
}

/** The Lease as it stands, for a dry run or --status. */
export async function inspectLease(kube: Kube, ref: LeaseRef, signal?: AbortSignal, clock = new ServerClock()): Promise<{ observed?: ObservedLease; serverNow: number; clock: ServerClock }> {
  const c = new LeaseClient(kube, ref, clock)
  const observed = await c.get(signal)
  return { observed, serverNow: clock.now(), clock }
}

