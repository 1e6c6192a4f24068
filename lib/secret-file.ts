import { OpsError } from './errors.ts'
import { SecretValue } from './secret-value.ts'
import { readUserFile, MAX_BYTES } from './safe-open.ts'

const REAUTH_FIRST = 'run the re-auth first (npx zx tasks/run.mjs gmail-reauth --only reauth), or pass --set tokenFile=<path>'

/** A local file holding secret material, read whole (through the safe-open rules), with a clear error when it is missing. */
export function readSecretFile(path: string, what = 'token file'): { bytes: SecretValue; path: string; mtime: Date } {
  try {
    const f = readUserFile(path, { what, maxBytes: MAX_BYTES.token, secret: true, missingReason: 'TokenFileMissing', invalidReason: 'TokenFileUnreadable' })
    return { bytes: new SecretValue(f.bytes), path: f.path, mtime: f.stat.mtime }
  } catch (e) {
    if (e instanceof OpsError && e.reason === 'TokenFileMissing') throw new OpsError(e.message, { reason: e.reason, hint: REAUTH_FIRST })
    throw e
  }
}
