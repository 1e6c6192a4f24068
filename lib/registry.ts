/**
 * The secrets registry (salt/pillar/secrets_registry.sls): which credentials exist, where they
 * live, how often they must rotate and which command rotates them. This module is the only
 * reader; everything else (the engine's `--status`, the ops tests) asks it.
 */
import { readUserFile, MAX_BYTES } from './safe-open.ts'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml'
import { z } from 'zod'
import { OpsError } from './errors.ts'

export const DEFAULT_REGISTRY_PATH = fileURLToPath(new URL('../salt/pillar/secrets_registry.sls', import.meta.url))

const HINT = 'fix the entry in salt/pillar/secrets_registry.sls; `npx vitest run test/unit/ops-registry.test.ts` checks it'

// DNS-1123 names: what Kubernetes accepts for namespaces and Secrets.
const dnsName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase DNS-1123 name')
const repoPath = z.string().regex(/^[^/~][^\s]*$/, 'must be a path relative to the repository root')

const KubernetesLocation = z.strictObject({
  namespace: dnsName,
  secret: dnsName,
  /** The data key inside the Secret that holds the credential. */
  key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a valid Secret data key'),
  /** Workloads that read it, as `kind/name`; they are restarted after a rotation. */
  consumers: z.array(z.string().regex(/^[a-z]+\/[a-z0-9-]+$/, 'must be kind/name, e.g. deployment/basketball-api')).default([]),
  /** Older Secrets this one replaces; rotation deletes them. */
  superseded: z.array(dnsName).default([]),
})

export const RegistryEntrySchema = z.strictObject({
  description: z.string().min(1),
  provider: z.string().min(1),
  /** external: a third party mints it (we can only ask for a new one); generated: we mint it. */
  origin: z.enum(['external', 'generated']),
  rotation_days: z.number().int().positive(),
  /**
   * Google OAuth apps: testing (default) means Google kills the grant rotation_days after the
   * consent; in_production (the app was published) means no deadline, so no expiry alert.
   */
  publishing_status: z.enum(['testing', 'in_production']).default('testing'),
  kubernetes: KubernetesLocation.optional(),
  local: z.strictObject({ path: z.string().regex(/^(~\/|\/)/, 'must be absolute or start with ~/') }).optional(),
  rotate: z.strictObject({
    script: repoPath,
    command: z.string().min(1),
    workflow: dnsName.optional(),
    forgejo: repoPath.optional(),
  }),
  monitoring: z
    .strictObject({
      rules: repoPath,
      alerts: z.array(z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'must be an alert name')).min(1),
    })
    .optional(),
})

const RegistryFileSchema = z.strictObject({
  secrets_registry: z.record(
    z.string().regex(/^[a-z][a-z0-9_]*$/, 'section names are snake_case'),
    z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'entry names are snake_case'), RegistryEntrySchema),
  ),
})

export type RegistryEntrySpec = z.infer<typeof RegistryEntrySchema>

export interface RegistryEntry extends RegistryEntrySpec {
  /** `<section>.<name>`, e.g. `platform.gmail_oauth_token`. */
  id: string
  section: string
  name: string
}

export interface SecretsRegistry {
  file: string
  entries: RegistryEntry[]
}

/** Reads and validates the registry; throws an OpsError naming file:line:col and the YAML path. */
export function loadSecretsRegistry(path: string = process.env.CREDFLOW_SECRETS_REGISTRY ?? DEFAULT_REGISTRY_PATH): SecretsRegistry {
  const shown = displayPath(path)
  let text: string
  try {
    text = readUserFile(path, { what: 'secrets registry', maxBytes: MAX_BYTES.registry }).bytes.toString('utf8')
  } catch (e) {
    throw new OpsError(`cannot read secrets registry ${shown}: ${(e as Error).message}`, { hint: HINT, reason: 'RegistryUnreadable', cause: e })
  }
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length > 0) {
    const err = doc.errors[0]
    const { line, col } = lines.linePos(err.pos[0])
    throw new OpsError(`${shown}:${line}:${col}: invalid YAML: ${err.message.split('\n')[0]}`, { hint: HINT, reason: 'RegistryInvalid' })
  }
  const parsed = RegistryFileSchema.safeParse(doc.toJS())
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      // For an unknown key, point at the key itself rather than at the map that holds it.
      const extra = issue.code === 'unrecognized_keys' ? [issue.keys[0]] : []
      const at = locate(doc, lines, [...(issue.path as (string | number)[]), ...extra])
      const where = issue.path.length ? issue.path.join('.') : '(root)'
      return `${shown}:${at}: ${where}: ${issue.message}`
    })
    throw new OpsError(`invalid secrets registry:\n  ${problems.join('\n  ')}`, { hint: HINT, reason: 'RegistryInvalid' })
  }
  const entries: RegistryEntry[] = []
  for (const [section, byName] of Object.entries(parsed.data.secrets_registry)) {
    for (const [name, spec] of Object.entries(byName)) entries.push({ ...spec, id: `${section}.${name}`, section, name })
  }
  return { file: path, entries }
}

/** Finds an entry by `section.name` or by a bare name that is unique across sections. */
export function findEntry(name: string, registry: SecretsRegistry = loadSecretsRegistry()): RegistryEntry {
  const hits = registry.entries.filter((e) => e.id === name || e.name === name)
  if (hits.length === 1) return hits[0]
  const known = registry.entries.map((e) => e.id).join(', ') || '(none)'
  if (hits.length === 0) {
    throw new OpsError(`no entry "${name}" in secrets registry ${displayPath(registry.file)} (known: ${known})`, { hint: HINT, reason: 'RegistryEntryMissing' })
  }
  throw new OpsError(`entry name "${name}" is ambiguous in ${displayPath(registry.file)}: use one of ${hits.map((e) => e.id).join(', ')}`, {
    reason: 'RegistryEntryAmbiguous',
  })
}

/** "line:col" of the deepest node on `path` that exists (a missing key points at its parent). */
function locate(doc: Document, lines: LineCounter, path: (string | number)[]): string {
  let offset = doc.contents?.range?.[0] ?? 0
  let node: unknown = doc.contents
  for (const segment of path) {
    if (!isMap(node)) break
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
    if (!pair) break
    offset = (isScalar(pair.key) && pair.key.range?.[0]) || offset
    node = pair.value
  }
  const { line, col } = lines.linePos(offset)
  return `${line}:${col}`
}

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel && !rel.startsWith('..') ? rel : path
}
