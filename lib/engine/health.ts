import { EXIT, type ExitCode } from './exit-codes.ts'
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

/** The stable `health` object of `--status --json` (README: "--status --json"). */
export interface StatusHealth extends Health {
  /** Nodes a run would change without a consent (Secret differs, consumers not restarted...). */
  drift: string[]
  exitCode: ExitCode
}

/**
 * For a workflow whose check says how its credential is (undefined otherwise: then --status
 * exits 0, or 1 when a check failed). The exit code a scheduler acts on, most urgent first: a
 * person now (dead or absent, 4), a person soon (5), someone must look (a check failed, 1), a
 * run fixes it (drift, 6), fine (0).
 */
export function statusHealth(obs: NodeObservation[]): StatusHealth | undefined {
  const carrier = obs.find((o) => o.health)
  const h = carrier?.health
  if (!h) return undefined
  // With a dead or absent credential the nodes after it are todo for that reason alone.
  const drift = h.state === 'dead' || h.state === 'absent' ? [] : obs.filter((o) => o !== carrier && o.state === 'todo').map((o) => o.id)
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
  return { ...h, drift, exitCode }
}

/** The lines above the node table: headline, consent source, drift, next command. */
export function formatHealth(h: StatusHealth): string[] {
  const lines: string[] = []
  if (h.headline) lines.push(h.headline)
  if (h.consent) lines.push(`  ${h.consent}`)
  if (h.drift.length) lines.push(`  out of sync: ${h.drift.join(', ')} (a run fixes this without a consent; exit ${EXIT.drift} when nothing worse)`)
  if (h.next) lines.push(`  next: ${h.next}`)
  return lines
}
