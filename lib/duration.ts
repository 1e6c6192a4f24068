const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses `500ms`, `2s`, `5m`, `1h`, `5d`, or a compound like `1h30m`. Returns milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim()
  if (s === '') return undefined
  let total = 0
  let rest = s
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/.exec(rest)
    if (!m) return undefined
    total += Number(m[1]) * UNITS[m[2]]
    rest = rest.slice(m[0].length)
  }
  return total
}

/** 1234 -> "1.2s", 90000 -> "1m30s", 3 days -> "3d0h". */
export function formatDuration(ms: number): string {
  if (ms < 999.5) return `${Math.round(ms)}ms`
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`
  const sec = Math.round(ms / 1000)
  if (sec < 3600) return `${Math.floor(sec / 60)}m${sec % 60}s`
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)}h${Math.floor((ms % 3_600_000) / 60_000)}m`
  return `${Math.floor(ms / 86_400_000)}d${Math.floor((ms % 86_400_000) / 3_600_000)}h`
}

/**
 * Node's timers hold a signed 32-bit millisecond count: setTimeout(fn, 2 ** 31) fires after
 * 1 ms (with a TimeoutOverflowWarning), so a longer wait silently becomes no wait at all.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Why the duration `text` is not a usable wait between `min` and `max` (durations too,
 * default: more than zero, at most what a timer can hold), or undefined when it is.
 */
export function durationProblem(text: string, range: { min?: string; max?: string } = {}): string | undefined {
  const ms = parseDuration(text)
  if (ms === undefined) return `must be a duration like 30s, 5m or 5d, got "${text}"`
  const min = range.min !== undefined ? parseDuration(range.min) ?? 1 : 1
  const max = Math.min(range.max !== undefined ? parseDuration(range.max) ?? MAX_TIMER_MS : MAX_TIMER_MS, MAX_TIMER_MS)
  if (ms >= min && ms <= max) return undefined
  const allowed = `allowed: ${range.min ?? (min === 1 ? 'more than 0' : formatDuration(min))} to ${range.max ?? '24d (what a timer holds)'}`
  if (ms > MAX_TIMER_MS) return `${text} is longer than a timer can wait (about 24.8 days); ${allowed}`
  return `${text} is ${ms === 0 ? 'zero' : ms < min ? 'too short' : 'too long'}; ${allowed}`
}
