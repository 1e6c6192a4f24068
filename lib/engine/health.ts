import { EXIT, type ExitCode } from './exit-codes.ts'
import { wrap } from './render/style.ts'
import type { NodeObservation } from './status.ts'

/**
 * What a step's check can say about the credential itself, beyond done/todo: the one line an
 * operator (or a scheduler) needs from `--status`. A workflow has at most one node that says it
 * (gmail-reauth: reauth); `--status` puts it first and derives the exit code from it.
 */
export interface Health {
  /** healthy: works, deadline not near (or none); expiring: dies within the warning window; dead: refused or past its deadline; absent: no credential at all. */
  state: 'healthy' | 'expiring' | 'dead' | 'absent'
  /** `healthy: expires in 4d 3h (Tue 09:12 UTC)`, `EXPIRES IN 5h (...)`, `DEAD since ...`. */
  headline: string
  /** RFC 3339; null: no deadline (e.g. a Google app In production) or not known. */
  expiresAt: string | null
  consentedAt: string | null
  /** How consentedAt is known: google, recorded, stated, estimate; null when not known. */
  source: string | null
  /** The consent line for people: when, how known, and what an estimate means. */
  consent?: string
  /** The command that fixes it, when something needs fixing. */
  next?: string
}

/** One thing a run would change without a consent: the node, and what its check sees. */
export interface Drift {
  /** e.g. update-secret[basketball-api] */
  node: string
  /** e.g. the Secret's and the local file's fingerprints, or Deployments not restarted since the Secret was written. */
  observed: string
}

/** The stable `health` object of `--status --json` (README: "--status --json"). */
export interface StatusHealth extends Health {
  /** What differs between the cluster and this host (Secret bytes vs the file, pods older than the Secret...). */
  drift: Drift[]
  exitCode: ExitCode
}

/**
 * For a workflow whose check says how its credential is (undefined otherwise: then --status
 * exits 0, or 1 when a check failed). The exit code a scheduler acts on, most urgent first: a
 * person now (dead or absent, 4), a person soon (5), someone must look (a check failed, 1), a
 * run fixes it (drift, 6), fine (0). `syncCommand` is the run that fixes drift.
 */
export function statusHealth(obs: NodeObservation[], syncCommand?: string): StatusHealth | undefined {
  const carrier = obs.find((o) => o.health)
  const h = carrier?.health
  if (!h) return undefined
  // With a dead or absent credential the nodes after it are todo for that reason alone.
  const drift = h.state === 'dead' || h.state === 'absent' ? [] : obs.filter((o) => o !== carrier && o.state === 'todo').map((o) => ({ node: o.id, observed: o.observed }))
  const incomplete = obs.some((o) => o.state === 'error')
  const exitCode: ExitCode =
    h.state === 'dead' || h.state === 'absent'
      ? EXIT.needsOperator
      : h.state === 'expiring'
        ? EXIT.expiringSoon
        : incomplete
          ? EXIT.failed
          : drift.length
            ? EXIT.drift
            : EXIT.ok
  // The credential's own next command comes first (a consent); else the run that syncs.
  const next = h.next ?? (exitCode === EXIT.drift && syncCommand ? `${syncCommand}   (syncs the cluster; no consent needed${carrier!.state === 'done' ? '' : ' unless reauthAfter asks for one'})` : undefined)
  return { ...h, ...(next ? { next } : {}), drift, exitCode }
}

/** The lines above the node table: headline, consent source, drift, next command; wrapped to `width` columns when given. */
export function formatHealth(h: StatusHealth, width?: number): string[] {
  const lines: string[] = []
  // Wider than the terminal: wrapped with a hanging indent of `hang` columns.
  const wrapped = (line: string, hang: number) => {
    if (width === undefined || [...line].length <= width) return [line]
    const lead = /^ */.exec(line)![0]
    return wrap(line.slice(lead.length), width - hang).map((l, i) => (i === 0 ? lead : ' '.repeat(hang)) + l)
  }
  if (h.headline) lines.push(...wrapped(h.headline, 2))
  if (h.consent) lines.push(...wrapped(`  ${h.consent}`, 4))
  if (h.drift.length) {
    lines.push(...wrapped(`  OUT OF SYNC: a run would change ${h.drift.length === 1 ? 'this' : `these ${h.drift.length}`} (exit ${EXIT.drift} when nothing worse):`, 4))
    for (const d of h.drift) lines.push(...wrapped(`    ${d.node}: ${d.observed}`, 6))
  }
  if (h.next) lines.push(...wrapped(`  next: ${h.next}`, 4))
  return lines
}
