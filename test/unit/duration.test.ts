// Durations as operators write them (workflow files, --set) and as every screen prints them.
import { describe, it, expect } from 'vitest'
import { parseDuration, formatDuration } from '../../lib/duration.ts'

describe('parseDuration', () => {
  it('reads ms, s, m, h, d and compounds; refuses anything else', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('5m')).toBe(300_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('5d')).toBe(432_000_000)
    for (const bad of ['', '5', '5x', 'm5', '1h 30m']) expect(parseDuration(bad), bad).toBeUndefined()
  })
})

describe('formatDuration', () => {
  it('never shows a unit at its rollover value', () => {
    expect(formatDuration(999.7)).toBe('1.0s')
    expect(formatDuration(1234)).toBe('1.2s')
    expect(formatDuration(59_960)).toBe('1m0s')
    expect(formatDuration(90_000)).toBe('1m30s')
    expect(formatDuration(3 * 86_400_000 + 2 * 3_600_000)).toBe('3d2h')
  })
})
