/**
 * What runs leave on disk besides their record (state.json, events.jsonl, transcript.txt):
 * temp files of a write killed halfway, removed by the next run; and files a run keeps for its
 * own recovery (a step's backup in its run directory), which --status lists with their age
 * until a later run has verified the new state and removed them.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { leftoverTemps, removeLeftoverTemps, type LeftoverTemp } from '../atomic-file.ts'
import { formatDuration } from '../duration.ts'

/** A run's record (fingerprints only), kept with the run: not leftovers. */
const RECORD = new Set(['state.json', 'events.jsonl', 'transcript.txt'])
const TEMP = /^\..+\.tmp$/

function dirsOf(workflowDir: string): string[] {
  const runs = join(workflowDir, 'runs')
  const ids = existsSync(runs) ? readdirSync(runs, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(runs, d.name)) : []
  return [workflowDir, ...ids]
}

/** Removes the temps of killed writes anywhere in the workflow's state; returns them. */
export function sweepTemps(workflowDir: string): LeftoverTemp[] {
  return dirsOf(workflowDir).flatMap((d) => removeLeftoverTemps(d))
}

export interface KeptFile {
  runId: string
  file: string
  path: string
  ageMs: number
}

/** Files runs keep beyond their record (backups), oldest first. */
export function keptFiles(workflowDir: string, now = Date.now()): KeptFile[] {
  const out: KeptFile[] = []
  for (const dir of dirsOf(workflowDir).slice(1)) {
    for (const file of readdirSync(dir)) {
      if (RECORD.has(file) || TEMP.test(file)) continue
      const path = join(dir, file)
      try {
        const st = statSync(path)
        if (st.isFile()) out.push({ runId: dir.split('/').pop()!, file, path, ageMs: now - st.mtimeMs })
      } catch {
        // removed meanwhile
      }
    }
  }
  return out.sort((a, b) => b.ageMs - a.ageMs)
}

/** --status lines: kept files and temps a run would remove. */
export function leftoverLines(workflowDir: string): string[] {
  const now = Date.now()
  const kept = keptFiles(workflowDir, now).map((k) => `run ${k.runId} keeps ${k.file} (${formatDuration(k.ageMs)} old, 0600): for that run's recovery; removed once a run verifies the new state (${k.path})`)
  const temps = dirsOf(workflowDir).flatMap((d) => leftoverTemps(d, { now })).map((t) => `temp file of a write killed halfway: ${t.path} (${formatDuration(t.ageMs)} old); the next run removes it`)
  return [...kept, ...temps]
}
