import { formatDuration } from '../../duration.ts'
import { changeText } from './changes.ts'
import type { EngineEvent } from '../events.ts'

/** One timestamped line per event, prefixed by node: for CI logs and pipes. */
export function plainRenderer(write: (line: string) => void, now: () => Date = () => new Date()) {
  const line = (id: string | undefined, text: string) => write(`${now().toISOString()} ${id ? `[${id}] ` : ''}${text}`)
  let dryRun = false
  return (e: EngineEvent): void => {
    switch (e.type) {
      case 'run-start':
        dryRun = e.dryRun
        line(undefined, `${e.dryRun ? 'dry run of' : 'run'} ${e.workflow}${e.runId ? ` (run ${e.runId})` : ''}${e.resumeOf ? `, resuming ${e.resumeOf}` : ''}: ${e.instances.length} node(s)`)
        break
      case 'notice':
        line(undefined, e.message)
        break
      case 'log':
        line(e.id, e.line)
        break
      case 'plan':
        if (e.changes.length === 0) line(e.id, 'no changes')
        for (const c of e.changes) line(e.id, `would ${changeText(c)}`)
        break
      case 'change':
        line(e.id, `changed: ${changeText(e.change)}`)
        break
      case 'retry':
        line(e.id, `attempt ${e.attempt - 1} failed${e.elapsedMs !== undefined ? ` (${formatDuration(e.elapsedMs)} since the node started)` : ''}: ${e.error.message}; retrying in ${formatDuration(e.delayMs)}`)
        break
      case 'status': {
        const took = e.durationMs !== undefined ? ` in ${formatDuration(e.durationMs)}` : ''
        switch (e.status) {
          case 'pending':
            // Every node starts pending (said by the run-start line); one left pending has a reason.
            if (e.reason) line(e.id, `pending: ${e.reason}`)
            break
          case 'running':
            line(e.id, dryRun ? 'checking' : 'running') // a dry run only checks and plans
            break
          case 'failed':
            line(e.id, `FAILED${took}: ${e.error?.message ?? e.reason ?? ''}`)
            if (e.error?.hint) line(e.id, `hint: ${e.error.hint}`)
            break
          default:
            line(e.id, `${e.status}${took}${e.reason ? `: ${e.reason}` : ''}`)
        }
        break
      }
      case 'run-end':
        line(undefined, `${e.status} (exit ${e.exitCode})`)
        break
    }
  }
}
