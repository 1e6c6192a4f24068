import { readFileSync, statSync } from 'node:fs'
import { OpsError } from './errors.ts'
import { SecretValue } from './secret-value.ts'
import { expandHome } from './paths.ts'

/** A local file holding secret material, read whole, with a clear error when it is missing. */
export function readSecretFile(path: string, what = 'token file'): { bytes: SecretValue; path: string; mtime: Date } {
  const full = expandHome(path)
  try {
    const bytes = new SecretValue(readFileSync(full))
    return { bytes, path: full, mtime: statSync(full).mtime }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new OpsError(`${what} ${full} does not exist`, {
        reason: 'TokenFileMissing',
        hint: 'run the re-auth first (npx zx tasks/run.mjs gmail-reauth --only reauth), or pass --set tokenFile=<path>',
      })
    }
    throw new OpsError(`cannot read ${what} ${full}: ${code ?? (e as Error).message}`, { reason: 'TokenFileUnreadable', hint: `check its permissions: ls -l ${full}` })
  }
}
