import { createInterface, type Interface } from 'node:readline'

let rl: Interface | undefined
const queue: string[] = []
const waiters: Array<(line: string | null) => void> = []
let ended = false

function ensure(): void {
  if (rl) return
  rl = createInterface({ input: process.stdin, terminal: false })
  rl.on('line', (line) => {
    const w = waiters.shift()
    if (w) w(line)
    else queue.push(line)
  })
  rl.on('close', () => {
    ended = true
    for (const w of waiters.splice(0)) w(null)
  })
}

/**
 * The next line the operator types or pipes on stdin; null at end of input or when `stop`
 * aborts. One reader for the whole process, so a paste is never split between two readers.
 */
export function nextStdinLine(stop?: AbortSignal): Promise<string | null> {
  ensure()
  if (queue.length) return Promise.resolve(queue.shift()!)
  if (ended || stop?.aborted) return Promise.resolve(null)
  return new Promise((resolve) => {
    const done = (line: string | null) => {
      stop?.removeEventListener('abort', onStop)
      resolve(line)
    }
    const onStop = () => {
      const i = waiters.indexOf(done)
      if (i >= 0) waiters.splice(i, 1)
      resolve(null)
    }
    waiters.push(done)
    stop?.addEventListener('abort', onStop, { once: true })
  })
}

/** Let the process exit once nobody needs stdin any more. */
export function releaseStdin(): void {
  rl?.close()
  rl = undefined
  process.stdin.unref?.()
}
