import type { Clock } from './clock.ts'
import { ConsentPolicy } from './consent.ts'
import { GoogleModel, type ClientRecord, type AccountRecord } from './model.ts'

/** One authorize request as the stand-in saw it, so tests can assert what the product asked for. */
export interface AuthorizationRecord {
  at: number
  clientId: string
  params: Record<string, string>
}

export interface PendingConsent {
  id: string
  client: ClientRecord
  account: AccountRecord
  params: URLSearchParams
  scopes: string[]
}

export interface TokenFault {
  /** Answer with this status (Google-style JSON body) instead of handling the request. */
  status?: number
  /** Wait this long (real time) first, to exercise client timeouts. */
  delayMs?: number
  body?: unknown
}

export interface RequestRecord {
  at: number
  method: string
  path: string
}

export class StandInState {
  readonly model: GoogleModel
  readonly consent = new ConsentPolicy()
  readonly authorizations: AuthorizationRecord[] = []
  readonly pending = new Map<string, PendingConsent>()
  readonly tokenFaults: TokenFault[] = []
  readonly requests: RequestRecord[] = []

  readonly clock: Clock
  constructor(clock: Clock) {
    this.clock = clock
    this.model = new GoogleModel(clock)
  }
}
