import { homedir } from 'node:os'
import { join } from 'node:path'

/** `~/x` -> `$HOME/x`: the workflow's defaults are written the way operators type paths. */
export function expandHome(path: string): string {
  if (path === '~') return homedir()
  if (path.startsWith('~/')) return join(homedir(), path.slice(2))
  return path
}
