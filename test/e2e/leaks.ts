/**
 * Leak scans: does any text the tool wrote contain token material? Needles are the stand-in's
 * secret strings (client secrets, codes, access/refresh/id tokens) plus whatever the caller
 * adds (e.g. a token file's base64, as a Secret carries it). Findings name the place and the
 * needle's kind and first characters, never the whole needle.
 */
import type { GoogleStandIn } from '../oauth-server/index.ts'

export interface Leak {
  where: string
  needle: string
}

/** Every secret the stand-in handed out or holds, plus `extra`; short strings are dropped (no false hits). */
export function secretNeedles(standIn: GoogleStandIn, extra: Array<string | Buffer> = []): string[] {
  const all = [
    ...standIn.control.secretStrings(),
    ...standIn.control.issuedTokens().map((t) => t.value),
    ...extra.flatMap((x) => (typeof x === 'string' ? [x] : [x.toString('utf8'), x.toString('base64')])),
  ]
  return [...new Set(all)].filter((s) => s.length >= 16)
}

export function findLeaks(haystacks: Record<string, string>, needles: string[]): Leak[] {
  const out: Leak[] = []
  for (const [where, text] of Object.entries(haystacks)) {
    for (const n of needles) if (text.includes(n)) out.push({ where, needle: `${n.slice(0, 8)}… (${n.length} chars)` })
  }
  return out
}
