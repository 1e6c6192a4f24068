import type { LimitFunction } from 'p-limit'

/**
 * Runs `fn` without holding one of the run's --max-parallel slots: while a node only waits on
 * the world (a rollout watch), another node may work. The slot is lent by raising the limit by
 * one for the wait; lowering it again lets no new node start until the count is back under it
 * (p-limit's rule), so at most K nodes ever work at once.
 */
export async function outsideSlot<T>(limit: LimitFunction, fn: () => Promise<T>): Promise<T> {
  limit.concurrency += 1
  try {
    return await fn()
  } finally {
    limit.concurrency -= 1
  }
}
