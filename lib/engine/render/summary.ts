import { formatDuration } from '../../duration.ts'
import type { NodeState } from '../state.ts'
import { clip, paint, wrap } from './style.ts'

const MARK: Record<string, string> = {
  succeeded: '✔', cached: '✔', planned: '~', skipped: '↓', failed: '✖', blocked: '⊘', interrupted: '!', pending: '·', running: '…',
}

const COLOR: Record<string, 'red' | 'yellow' | 'cyan' | 'green' | 'dim'> = {
  failed: 'red', blocked: 'red', interrupted: 'yellow', planned: 'cyan', pending: 'dim', succeeded: 'green', cached: 'green', skipped: 'green',
}

/** Below this a four-column table cannot hold a readable note: one block per node instead. */
const NARROW = 60

/**
 * The table every run ends with: node, status, duration, note, never wider than `width`
 * (a terminal's columns; undefined for a pipe or a file: lines are left whole). A long note
 * wraps under its column instead of running off the screen, so an error stays readable.
 */
export function summaryTable(order: string[], nodes: Record<string, NodeState>, opts: { width?: number } = {}): string {
  const rows = order.map((id) => {
    const s = nodes[id]
    const note = (s?.error ? s.error.message : (s?.reason ?? '')).replace(/\s+/g, ' ').trim()
    return { status: s?.status ?? 'pending', cells: [id, `${MARK[s?.status ?? 'pending'] ?? ' '} ${s?.status ?? 'pending'}`, s?.durationMs !== undefined ? formatDuration(s.durationMs) : '-'], note }
  })
  const head = ['NODE', 'STATUS', 'DURATION', 'NOTE']
  const w = [0, 1, 2].map((c) => Math.max(head[c].length, ...rows.map((r) => [...r.cells[c]].length)))
  const indent = w[0] + w[1] + w[2] + 6
  const width = opts.width
  if (width !== undefined && (width < NARROW || indent + 16 > width)) {
    // One block per node: "✔ succeeded  node  1.2s", the note wrapped beneath, indented.
    return rows.map((r) => [paint(COLOR[r.status] ?? 'green', clip(`${r.cells[1]}  ${r.cells[0]}  ${r.cells[2]}`, width)), ...(r.note ? wrap(r.note, width - 4).map((l) => `    ${l}`) : [])].join('\n')).join('\n') + '\n'
  }
  const noteWidth = width === undefined ? Infinity : width - indent
  const left = (cells: string[]) => cells.map((cell, c) => cell.padEnd(w[c])).join('  ')
  const lines = [`${left(head.slice(0, 3))}  ${head[3]}`]
  for (const r of rows) {
    const notes = r.note ? (noteWidth === Infinity ? [r.note] : wrap(r.note, noteWidth)) : ['']
    lines.push(paint(COLOR[r.status] ?? 'green', `${left(r.cells)}  ${notes[0]}`.trimEnd()))
    for (const more of notes.slice(1)) lines.push(`${' '.repeat(indent)}${more}`)
  }
  return lines.join('\n') + '\n'
}
