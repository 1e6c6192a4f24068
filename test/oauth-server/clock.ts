/** The stand-in's notion of "now". Tests advance it to expire tokens without waiting. */
export interface Clock {
  now(): number
  advance(ms: number): number
}

export function createClock(startMs: number = Date.now()): Clock {
  let t = startMs
  return {
    now: () => t,
    advance(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`clock.advance: expected a non-negative number of ms, got ${ms}`)
      t += ms
      return t
    },
  }
}

export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR
