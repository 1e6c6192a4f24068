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
