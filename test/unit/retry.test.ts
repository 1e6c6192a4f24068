// lib/retry.ts: the one retry policy of the Google and Kubernetes clients and of workflow nodes.
import { describe, it, expect } from 'vitest'
import { retry } from '../../lib/retry.ts'

const failing = (times: number, error = new Error('503')) => {
  let calls = 0
  return { fn: async (attempt: number) => (++calls <= times ? Promise.reject(error) : `ok after ${attempt}`), calls: () => calls }
}

describe('retry', () => {
  it('retries a curable failure, waiting backoffMs and doubling, and tells each wait before it', async () => {
    const f = failing(2)
    const waits: Array<[number, number]> = []
    const t0 = Date.now()
    await expect(retry(f.fn, { attempts: 3, backoffMs: 40, retryable: () => true, onRetry: (_e, next, ms) => waits.push([next, ms]) })).resolves.toBe('ok after 3')
    expect(waits).toEqual([[2, 40], [3, 80]])
    expect(Date.now() - t0).toBeGreaterThanOrEqual(115)
  })
  it('gives up after `attempts` in all, with the exhausted error', async () => {
    const f = failing(5)
    await expect(retry(f.fn, { attempts: 3, backoffMs: 1, retryable: () => true, exhausted: (e, n) => new Error(`${(e as Error).message} (tried ${n} times)`) })).rejects.toThrow('503 (tried 3 times)')
    expect(f.calls()).toBe(3)
  })
  it('does not retry what a later attempt cannot cure', async () => {
    const f = failing(5, new Error('Forbidden'))
    await expect(retry(f.fn, { attempts: 3, backoffMs: 1, retryable: (e) => (e as Error).message !== 'Forbidden' })).rejects.toThrow('Forbidden')
    expect(f.calls()).toBe(1)
  })
  it('stops waiting when the signal aborts, with the cancelled error, and makes no further attempt', async () => {
    const f = failing(5)
    const ctl = new AbortController()
    setTimeout(() => ctl.abort(), 30)
    const t0 = Date.now()
    await expect(retry(f.fn, { attempts: 3, backoffMs: 10_000, signal: ctl.signal, retryable: () => true, cancelled: () => new Error('cancelled') })).rejects.toThrow('cancelled')
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(f.calls()).toBe(1)
  })
  it('makes one attempt when attempts is below 1', async () => {
    const f = failing(5)
    await expect(retry(f.fn, { attempts: 0, backoffMs: 1, retryable: () => true })).rejects.toThrow('503')
    expect(f.calls()).toBe(1)
  })
})
