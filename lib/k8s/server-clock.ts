/**
 * The apiserver's clock as this process sees it in the Date header of its responses. Times
 * that other hosts compare (consent times, Lease renewals) are written on this clock, so a
 * host whose own clock is minutes off writes the same times as one whose clock is right.
 */
import { callOptions, clientNode, type Kube } from './client.ts'

export class ServerClock {
  /** apiserver minus this host, in ms; undefined until a response with a Date was seen. */
  offsetMs: number | undefined
  private readonly localNow: () => number
  constructor(localNow: () => number = Date.now) {
    this.localNow = localNow
  }
  observe(dateHeader: string | undefined, sentAt: number, receivedAt: number): void {
    const server = dateHeader ? Date.parse(dateHeader) : NaN
    if (Number.isNaN(server)) return
    // The header truncates to whole seconds: the server's clock was in [server, server+1s) at
    // some point between our send and our receive. Take the middle of both.
    this.offsetMs = server + 500 - (sentAt + receivedAt) / 2
  }
  now(): number {
    return this.localNow() + (this.offsetMs ?? 0)
  }
  /** This host's wall clock (what the offset is measured against). */
  local(): number {
    return this.localNow()
  }
  /** A time read from this host's clock (a file's mtime, a Date.now()), on the apiserver's. */
  fromLocal(localMs: number): number {
    return localMs + (this.offsetMs ?? 0)
  }
  /** MicroTime as the apiserver writes it (RFC 3339 with exactly six fractional digits). */
  microTime(): string {
    return new Date(this.now()).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
  }
}

/**
 * One GET /version (readable by every authenticated user, so no RBAC verb is needed) to learn
 * the offset. Undefined when the apiserver did not answer with a Date.
 */
export async function measureServerClock(kube: Kube, signal?: AbortSignal, clock = new ServerClock()): Promise<ServerClock | undefined> {
  const k8s = await clientNode()
  const sentAt = clock.local()
  await kube.api(k8s.VersionApi).getCode({}, callOptions({ signal, onResponse: (h) => clock.observe(h['date'], sentAt, clock.local()) }))
  return clock.offsetMs === undefined ? undefined : clock
}
