import { formatDuration } from '../../duration.ts'
import type { NodeState } from '../state.ts'

const MARK: Record<string, string> = {
  succeeded: '✔', cached: '✔', planned: '~', skipped: '↓', failed: '✖', blocked: '⊘', interrupted: '!', pending: '·', running: '…',
}

/** The table every run ends with: node, status, duration, note. */
export function summaryTable(order: string[], nodes: Record<string, NodeState>, color = false): string {
  const rows = order.map((id) => {
    const s = nodes[id]
    const note = s?.error ? s.error.message : (s?.reason ?? '')
    return [id, `${MARK[s?.status ?? 'pending'] ?? ' '} ${s?.status ?? 'pending'}`, s?.durationMs !== undefined ? formatDuration(s.durationMs) : '-', note]
  })
  const head = ['NODE', 'STATUS', 'DURATION', 'NOTE']
  const width = [0, 1, 2].map((c) => Math.max(head[c].length, ...rows.map((r) => r[c].length)))
  const fmt = (r: string[]) => r.map((cell, c) => (c < 3 ? cell.padEnd(width[c]) : oneLine(cell))).join('  ').trimEnd()
  const paint = (r: string[], status: string | undefined) => {
    const text = fmt(r)
    if (!color) return text
    const code = status === 'failed' || status === 'blocked' ? 31 : status === 'interrupted' ? 33 : status === 'planned' ? 36 : 32
    return `\x1b[${code}m${text}\x1b[0m`
  }
  return [fmt(head), ...rows.map((r, i) => paint(r, nodes[order[i]]?.status))].join('\n') + '\n'
}

function oneLine(s: string): string {
  const l = s.replace(/\s+/g, ' ')
  return l.length > 100 ? l.slice(0, 99) + '…' : l
}
