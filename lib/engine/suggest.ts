/** Edit distance (insert, delete, substitute, swap of neighbours): how far a typo is from a name. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/**
 * The known name a mistyped one most likely meant, as git and kubectl suggest: within a third
 * of its length (at least 2 edits), or a name it is the start of. Undefined when none is close.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase()
  const prefix = known.filter((k) => k.toLowerCase().startsWith(w) && w.length >= 3)
  if (prefix.length === 1) return prefix[0]
  let best: { name: string; d: number } | undefined
  for (const k of known) {
    const d = distance(w, k.toLowerCase())
    if (d <= Math.max(2, Math.floor(k.length / 3)) && (!best || d < best.d)) best = { name: k, d }
  }
  return best?.name
}

/** "; did you mean X?" or nothing. */
export function didYouMean(word: string, known: readonly string[], show: (k: string) => string = (k) => k): string {
  const c = closest(word, known)
  return c ? `; did you mean ${show(c)}?` : ''
}
