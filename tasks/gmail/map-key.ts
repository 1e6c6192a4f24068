// map-key: pure. The Secret payload is the token file's exact bytes under each target's
// key (gmail-westsidebasktball.json locally -> gmail-westsidebasketball.json in the
// Secret: the local name's misspelling is upstream's and stays). Bad files fail here,
// before the cluster is touched. Outputs key names, sizes and hashes, never content.
import { basename } from 'node:path'
import { z } from 'zod'
import { defineStep, type StepContext } from '../../lib/engine/step.ts'
import { OpsError, isOpsError } from '../../lib/errors.ts'
import { expandHome } from '../../lib/paths.ts'
import { sha256Hex } from '../../lib/secret-value.ts'
import { readSecretFile } from '../../lib/secret-file.ts'
import { parseTokenFile } from '../../lib/oauth/token-file.ts'
import { crashPoint } from '../../lib/crash-point.ts'

const Inputs = z.object({
  tokenFile: z.string().min(1),
  targets: z.array(z.object({ namespace: z.string(), secret: z.string(), key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a valid Secret data key') }).passthrough()).min(1),
  /** The fingerprint verify-scopes checked with Google (scopes, client, account). */
  verifiedFingerprint: z.string().optional(),
})
type In = z.infer<typeof Inputs>

function mapping(i: In, command: StepContext<In>['command']) {
  const { bytes, path } = readSecretFile(i.tokenFile)
  crashPoint('map-key:read') // the resume tests kill map-key here, while it runs
  const file = parseTokenFile(bytes.reveal(), `token file ${path}`) // size, JSON, format, refresh_token
  if (i.verifiedFingerprint && bytes.fingerprint !== i.verifiedFingerprint) {
    // e.g. --from map-key after the file changed: these bytes were never checked with Google.
    throw new OpsError(`${path} changed since verify-scopes checked it (${i.verifiedFingerprint} -> ${bytes.fingerprint}): refusing to map bytes nobody verified`, {
      reason: 'TokenFileChanged',
      hint: `verify the new file first: ${command('--from', 'verify-scopes')}`,
    })
  }
  const mappings = i.targets.map((t) => `${t.namespace}/${t.secret}[${t.key}]`)
  return {
    outputs: { file: basename(path), format: file.format, length: bytes.length, sha256: sha256Hex(bytes.reveal()), fingerprint: bytes.fingerprint, mappings },
    text: `${basename(path)} (${bytes.length} bytes, ${bytes.fingerprint}, ${file.format}) -> ${mappings.join(', ')}`,
  }
}

export default defineStep({
  description: 'map the token file bytes to the Secret key(s)',
  inputs: Inputs,
  async check({ inputs, dryRun, command }) {
    try {
      const m = mapping(inputs, command)
      return { done: true, outputs: m.outputs, observed: m.text }
    } catch (e) {
      if (dryRun && isOpsError(e) && e.reason === 'TokenFileMissing') return { done: false, reason: `${expandHome(inputs.tokenFile)} appears after re-auth` }
      throw e
    }
  },
  async plan({ inputs }) {
    // The format as the file is now; after a consent it is reauth's tokenFormat (its plan says which).
    let format = ''
    try {
      format = ` (${parseTokenFile(readSecretFile(inputs.tokenFile).bytes.reveal()).format} format, exact bytes)`
    } catch {
      format = ' (exact bytes)'
    }
    return { changes: inputs.targets.map((t) => ({ verb: 'map', target: `${t.namespace}/${t.secret}[${t.key}]`, detail: `<- ${basename(inputs.tokenFile)}${format}` })) }
  },
  async apply({ inputs, command }) {
    return mapping(inputs, command).outputs
  },
})
