import { BASIC_SCOPES } from './scopes.ts'

/** What the simulated user does on the consent screen. `scopes` ticks only those boxes (granular consent, §3.5). */
export type ConsentDecision = { action: 'grant'; scopes?: string[] } | { action: 'deny' }

/**
 * Decides consent for each authorize request: a one-shot decision queued for the next request wins, then a
 * per-client decision, then the default (auto-approve sets it to grant-all). With none, the stand-in shows a
 * consent page whose form an HTTP client (or a person, in a demo) submits.
 */
export class ConsentPolicy {
  #next: ConsentDecision[] = []
  #perClient = new Map<string, ConsentDecision>()
  #default: ConsentDecision | undefined

  queueNext(d: ConsentDecision): void {
    this.#next.push(checkDecision(d))
  }

  set(d: ConsentDecision | null, clientId?: string): void {
    if (d) checkDecision(d)
    if (clientId === undefined) this.#default = d ?? undefined
    else if (d) this.#perClient.set(clientId, d)
    else this.#perClient.delete(clientId)
  }

  decide(clientId: string): ConsentDecision | undefined {
    return this.#next.shift() ?? this.#perClient.get(clientId) ?? this.#default
  }
}

function checkDecision(d: ConsentDecision): ConsentDecision {
  if (d?.action !== 'grant' && d?.action !== 'deny') throw new Error(`consent decision must be {action: 'grant'|'deny'}, got ${JSON.stringify(d)}`)
  return d
}

/**
 * The scopes a decision grants out of the requested ones. Basic scopes (openid, email, profile) have no checkbox,
 * so they are granted whenever anything is; unticking every box is a denial.
 */
export function grantedBy(d: ConsentDecision, requested: string[]): string[] | 'denied' {
  if (d.action === 'deny') return 'denied'
  const ticked = d.scopes === undefined ? requested : requested.filter((s) => d.scopes!.includes(s))
  if (!ticked.some((s) => !BASIC_SCOPES.has(s)) && requested.some((s) => !BASIC_SCOPES.has(s))) return 'denied'
  return requested.filter((s) => ticked.includes(s) || BASIC_SCOPES.has(s))
}
