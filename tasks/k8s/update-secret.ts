// update-secret: data[key] of the Secret becomes the token file's bytes, byte for byte.
// A new grant (a new refresh token: a consent) recreates the Secret (delete with
// preconditions, then create) so that its creationTimestamp (kubectl's AGE) is the sync of
// that consent, and verify-decode can tell pods started after it. The same grant with a
// newer access token is updated in place: its AGE keeps counting from that sync. The alert
// reads neither: it counts from the consent recorded by record-expiry (docs/expiry.md). The previous Secret is backed up (0600, run directory) until verify-decode
// passes; a crash between delete and create is healed on --resume.
import { basename } from 'node:path'
import { z } from 'zod'
import { defineStep, type Change, type StepContext } from '../../lib/engine/step.ts'
import { OpsError } from '../../lib/errors.ts'
import { readSecretFile } from '../../lib/secret-file.ts'
import { sha256Hex, SecretValue } from '../../lib/secret-value.ts'
import { parseTokenFile } from '../../lib/oauth/token-file.ts'
import { formatDuration } from '../../lib/duration.ts'
import { connect, targetOf, type Kube } from '../../lib/k8s/client.ts'
import { requireNamespace } from '../../lib/k8s/namespaces.ts'
import { readSecret, createSecret, updateSecret, type SecretSnapshot } from '../../lib/k8s/secrets.ts'
import { replaceSecret, checkReplaceAllowed, withoutLastApplied, REFRESHED_AT_ANNOTATION, CONTENT_SHA256_ANNOTATION, CONSENTED_AT_ANNOTATION, GRANT_ANNOTATION, WRITTEN_BY_ANNOTATION } from '../../lib/k8s/secret-replace.ts'
import { compareGrants, grantOf } from '../../lib/grant-order.ts'
import { processIdentity, runHolder } from '../../lib/engine/run-lock.ts'
import { ServerClock } from '../../lib/k8s/server-clock.ts'
import { saveBackup, loadBackup, otherRunBackup, runWithBackup } from '../../lib/k8s/secret-backup.ts'
import { restartDeployment } from '../../lib/k8s/rollout.ts'
import { checkSecretTarget } from '../../lib/k8s/target-checks.ts'

const Inputs = z.object({
  namespace: z.string().min(1),
  secret: z.string().min(1),
  key: z.string().min(1),
  tokenFile: z.string().min(1),
  /** From map-key: the bytes we validated. The file must still hold exactly them. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  consentedAt: z.string().optional(),
  /** Whose clock consentedAt was read on (reauth moves it onto the apiserver's when it can). */
  consentClock: z.enum(['apiserver', 'this host']).default('this host'),
  /** The process whose reauth did the consent ('' when none did): in that same process, the grant is the newest. */
  consentBy: z.string().default(''),
  /** Replace a Secret that holds a later consent than the local file (refused otherwise). */
  allowOlderGrant: z.boolean().default(false),
  /** The consumers `restart` will roll: checked (server-side dry run) before the Secret is touched. */
  deployments: z.array(z.string().min(1)).default([]),
  kubeconfig: z.string().default(''),
  context: z.string().default(''),
  /** Per API request, like kubectl's --request-timeout. */
  requestTimeout: z.string().default('30s'),
})
type In = z.infer<typeof Inputs>

const short = (hex: string) => `sha256:${hex.slice(0, 12)}`
const where = (i: Pick<In, 'namespace' | 'secret'>) => `Secret ${i.namespace}/${i.secret}`

function localBytes(i: In, command: StepContext<In>['command']): SecretValue {
  const { bytes } = readSecretFile(i.tokenFile)
  const sha = sha256Hex(bytes.reveal())
  if (sha !== i.sha256) {
    throw new OpsError(`${i.tokenFile} changed since map-key validated it (${short(i.sha256)} -> ${short(sha)})`, {
      reason: 'TokenFileChanged',
      hint: `verify the new content with Google first: ${command('--from', 'verify-scopes')}`,
    })
  }
  return bytes
}

function outputsOf(s: SecretSnapshot, key: string) {
  const refreshedAt = s.annotations[REFRESHED_AT_ANNOTATION] ?? s.creationTimestamp.toISOString()
  return {
    namespace: s.namespace,
    secret: s.name,
    key,
    sha256: sha256Hex(s.data[key]!.reveal()),
    refreshedAt,
    createdAt: s.creationTimestamp.toISOString(),
    uid: s.uid,
  }
}

function refuseType(s: SecretSnapshot | undefined, i: Pick<In, 'namespace' | 'secret'>): void {
  if (s && s.type !== 'Opaque') {
    throw new OpsError(`refusing to rewrite ${where(i)}: its type is ${s.type}, expected Opaque`, {
      reason: 'UnexpectedSecretType',
      hint: `kubectl -n ${i.namespace} get secret ${i.secret} -o jsonpath='{.type}'; check the targets param`,
    })
  }
}

/** A refusal by RBAC: say where the workflow's Role is written down. */
function pointAtRole(e: unknown): unknown {
  if (!(e instanceof OpsError) || e.reason !== 'Forbidden' || /denied by admission/.test(e.message)) return e
  return new OpsError(e.message, { reason: e.reason, retryable: e.retryable, hint: `${e.hint ?? 'grant the verb in the Role'} (deploy/rbac.yaml lists every verb the workflow needs)` })
}

/** `command` is the step context's: the hint carries --state-dir when it is not the default. */
function heldByRun(i: Pick<In, 'namespace' | 'secret'>, runId: string, command: (...flags: string[]) => string): OpsError {
  return new OpsError(`${where(i)} is missing and run ${runId} holds its backup (taken before its delete)`, {
    reason: 'SecretMissing',
    hint: `continue that run so the Secret comes back whole: ${command('--resume', runId)}`,
  })
}

/** The local file's bytes, or why they cannot be read (a dry run before the re-auth wrote it). */
function localFile(path: string): SecretValue | string {
  try {
    return readSecretFile(path).bytes
  } catch (e) {
    return e instanceof OpsError ? e.message : String(e)
  }
}

/** Where a wrong namespace comes from: the workflow's targets param. */
const TARGETS_HINT = `kubectl get namespaces; then fix the namespace in the targets param: --set targets='[{"namespace":"…","secret":"…","key":"…","staleSecrets":[…],"deployments":[…]}]' (--help shows the default)`

/** The apiserver's clock, from the Date of our reads: consent times are compared and recorded on it. */
const serverClock = new ServerClock()
/** The consent time on the apiserver's clock: reauth's already is, or else it is moved there by our offset. */
function consentOnServer(i: Pick<In, 'consentedAt' | 'consentClock'>): string | undefined {
  const t = i.consentedAt ? Date.parse(i.consentedAt) : NaN
  if (Number.isNaN(t)) return i.consentedAt
  return i.consentClock === 'apiserver' ? i.consentedAt : new Date(serverClock.fromLocal(t)).toISOString()
}
/** How old the Secret is, by the apiserver's clock (this host's may be minutes off). */
const ageOf = (s: SecretSnapshot) => formatDuration(Math.max(0, serverClock.now() - s.creationTimestamp.getTime()))

/** The Secret, or undefined when it does not exist; a missing namespace is said as such. */
async function readLive(kube: Kube, i: Pick<In, 'namespace' | 'secret'>, signal: AbortSignal): Promise<SecretSnapshot | undefined> {
  const sent = Date.now()
  const live = await readSecret(kube, { namespace: i.namespace, name: i.secret }, { signal, onResponse: (h) => serverClock.observe(h['date'], sent, Date.now()) })
  if (!live) await requireNamespace(kube, i.namespace, { signal, hint: TARGETS_HINT, unchanged: true })
  return live
}

const kubeOf = (i: In) => connect(targetOf(i))

/**
 * The Secret already holds this grant (same refresh token) and only the access token or
 * expiry in the file moved, as gmail-mcp rewrites it on every refresh. Such a change is
 * synced in place: recreating the Secret would make its AGE (and what verify-decode
 * compares pods with) a refresh, not the sync of the last consent.
 */
function sameGrant(live: SecretSnapshot | undefined, key: string, bytes: SecretValue): boolean {
  const have = live?.data[key]
  if (!have) return false
  try {
    return parseTokenFile(have.reveal()).refreshToken.equals(parseTokenFile(bytes.reveal()).refreshToken)
  } catch {
    return false // not a token file we can read: treat as new content
  }
}

/**
 * The live Secret with `data[key]` replaced, identity and refresh time kept. kubectl's
 * last-applied annotation is dropped: it holds the applied object, old token included.
 */
function inPlace(live: SecretSnapshot, key: string, bytes: SecretValue) {
  return {
    ...live,
    annotations: { ...withoutLastApplied(live.annotations), [CONTENT_SHA256_ANNOTATION]: sha256Hex(bytes.reveal()) },
    data: { ...live.data, [key]: bytes },
  }
}

/**
 * Refuse to put an older grant (an earlier consent) over the Secret's: say whose it is and
 * when it was written. Same grant, unknown order, or allowOlderGrant: go on.
 */
function refuseOlderGrant(live: SecretSnapshot | undefined, i: In, bytes: SecretValue, runDir: string | undefined, log?: (l: string) => void): void {
  if (!live) return
  const a = live.annotations
  const o = compareGrants(
    { bytes: bytes.reveal(), consentedAt: consentOnServer(i), consentedHere: !!i.consentBy && !!runDir && processIdentity(basename(runDir)) === i.consentBy },
    { bytes: live.data[i.key]?.reveal(), recorded: { grant: a[GRANT_ANNOTATION], consentedAt: a[CONSENTED_AT_ANNOTATION], writtenBy: a[WRITTEN_BY_ANNOTATION], writtenAt: live.creationTimestamp.toISOString() } },
  )
  if (o.order !== 'older') return
  const by = `written by ${a[WRITTEN_BY_ANNOTATION] ?? 'an unknown host'} at ${live.creationTimestamp.toISOString().replace(/\.\d+Z$/, 'Z')} (apiserver clock)`
  if (i.allowOlderGrant) {
    log?.(`replacing the newer grant in ${where(i)} (${o.remote}, ${by}) with the older one in the local file (${o.local}), as allowOlderGrant says: ${o.why}`)
    return
  }
  const jsonpath = `{.data.${i.key.replace(/\./g, '\\.')}}`
  throw new OpsError(
    `refusing to replace the newer grant in ${where(i)} with the older one in ${i.tokenFile}: ${o.why}. The Secret's grant (refresh token ${o.remote}) was ${by}; the local file holds ${o.local}. Replacing it would roll the consumers back onto an earlier consent, which Google ends sooner; nothing was changed`,
    {
      reason: 'OlderGrant',
      hint: `bring this host's token file up to date from the Secret instead: kubectl -n ${i.namespace} get secret ${i.secret} -o jsonpath='${jsonpath}' | base64 -d > ${i.tokenFile}; to replace it anyway: rerun with --allow-older-grant`,
    },
  )
}

/** Annotations that record which grant this is, when it was consented, and who wrote it. */
function grantAnnotations(i: In, bytes: SecretValue, runDir: string | undefined): Record<string, string> {
  const h = runHolder(process.env, runDir ? basename(runDir) : undefined, '')
  const grant = grantOf(bytes.reveal())
  return {
    // On the apiserver's clock, so hosts whose clocks differ compare consents fairly.
    ...(i.consentedAt ? { [CONSENTED_AT_ANNOTATION]: consentOnServer(i)! } : {}),
    ...(grant ? { [GRANT_ANNOTATION]: grant } : {}),
    [WRITTEN_BY_ANNOTATION]: `${h.host} (${h.runId ? `run ${h.runId}, ` : ''}${h.frontDoor})`,
  }
}

/** The Secret a run recreates from its own backup after its delete: other keys, labels and annotations kept, new content. */
function fromBackup(backup: SecretSnapshot, i: In, bytes: SecretValue, runDir?: string) {
  const consent = grantAnnotations(i, bytes, runDir)
  return {
    namespace: i.namespace,
    name: i.secret,
    type: backup.type,
    labels: backup.labels,
    // kubectl's last-applied annotation would carry the old token into the new object.
    annotations: { ...withoutLastApplied(backup.annotations), ...consent, [REFRESHED_AT_ANNOTATION]: new Date(serverClock.now()).toISOString(), [CONTENT_SHA256_ANNOTATION]: sha256Hex(bytes.reveal()) },
    data: { ...backup.data, [i.key]: bytes },
  }
}

export default defineStep({
  description: 'write the token file into the Secret key: recreated for a new grant, updated in place otherwise',
  inputs: Inputs,

  async check({ inputs, signal, runDir, runsDir, command }) {
    const bytes = localBytes(inputs, command)
    const kube = await kubeOf(inputs)
    const live = await readLive(kube, inputs, signal)
    if (!live) {
      const ref = { namespace: inputs.namespace, name: inputs.secret }
      const holder = runWithBackup(runsDir, ref, runDir)
      const held = holder ? `; run ${holder} holds its backup: ${command('--resume', holder)}` : ''
      return { done: false, reason: `${where(inputs)} does not exist${held}` }
    }
    refuseType(live, inputs)
    const have = live.data[inputs.key]
    const age = ageOf(live)
    if (have?.equals(bytes)) {
      return { done: true, outputs: outputsOf(live, inputs.key), observed: `${where(inputs)} key ${inputs.key} matches the local file (${bytes.fingerprint}, ${bytes.length} bytes); Secret age ${age}` }
    }
    return {
      done: false,
      reason: have ? `key ${inputs.key} differs from the local file` : `key ${inputs.key} is missing`,
      observed: `${where(inputs)} key ${inputs.key}: ${have ? have.fingerprint : 'absent'}, local file ${bytes.fingerprint}; Secret age ${age}`,
    }
  },

  async plan({ inputs, signal, runDir, runsDir, command }) {
    const bytes = localBytes(inputs, command)
    const kube = await kubeOf(inputs)
    // Server-side dry run (dryRun=All): RBAC, admission and validation answer now, not mid-apply.
    const ref = { namespace: inputs.namespace, name: inputs.secret }
    const live = await readLive(kube, inputs, signal)
    refuseType(live, inputs)
    const own = !live && runDir ? loadBackup(runDir, ref) : undefined
    if (own) {
      // This run deleted the Secret and stopped before its create (resumed now): apply recreates it from the backup.
      await createSecret(kube, fromBackup(own, inputs, bytes, runDir), { dryRun: true, signal })
      const detail = `recreate from this run's backup (other keys, labels kept); key ${inputs.key} <- ${basename(inputs.tokenFile)} (${bytes.length} bytes, ${bytes.fingerprint})`
      return { changes: [{ verb: 'create', target: where(inputs), context: kube.where, detail }] }
    }
    if (!live) {
      // The real run would refuse to create a bare Secret while another run holds its backup.
      const holder = runWithBackup(runsDir, ref, runDir)
      if (holder) throw heldByRun(inputs, holder, command)
    }
    if (live && sameGrant(live, inputs.key, bytes)) {
      const predicted = await updateSecret(kube, inPlace(live, inputs.key, bytes), { dryRun: true, signal })
      const detail = `key ${inputs.key} <- ${basename(inputs.tokenFile)} (${bytes.length} bytes, ${live.data[inputs.key]!.fingerprint} -> ${bytes.fingerprint})`
      return {
        changes: [{ verb: 'update', target: where(inputs), context: kube.where, detail: `${detail}; same refresh token, so in place: creationTimestamp (the age alert) still counts from the last consent` }],
        outputs: outputsOf(predicted, inputs.key),
      }
    }
    refuseOlderGrant(live, inputs, bytes, runDir)
    const r = await replaceSecret(kube, { namespace: inputs.namespace, name: inputs.secret, key: inputs.key, value: bytes, dryRun: true, signal }).catch((e) => {
      throw pointAtRole(e)
    })
    const before = r.previous?.data[inputs.key]
    const detail = `key ${inputs.key} <- ${basename(inputs.tokenFile)} (${bytes.length} bytes, ${before ? before.fingerprint : 'new key'} -> ${bytes.fingerprint})`
    const verb = r.action === 'unchanged' ? 'keep' : r.previous ? 'replace' : 'create'
    return {
      changes: [{ verb, target: where(inputs), context: kube.where, detail: r.previous ? `${detail}; delete+create so creationTimestamp marks the refresh` : detail }],
      outputs: outputsOf(r.current, inputs.key),
    }
  },

  async apply({ inputs, signal, runDir, log, command, changed }) {
    const bytes = localBytes(inputs, command)
    const kube = await kubeOf(inputs)
    const ref = { namespace: inputs.namespace, name: inputs.secret }
    const live = await readLive(kube, inputs, signal)
    refuseType(live, inputs)
    const backup = runDir ? loadBackup(runDir, ref) : undefined
    if (!live && !backup && runDir) {
      // Another run deleted the Secret and stopped before creating it: only that run holds the
      // copy of its other keys and labels. Continue that run instead of creating a bare Secret.
      const orphan = otherRunBackup(runDir, ref)
      if (orphan) throw heldByRun(inputs, orphan, command)
    }
    // Recorded on the object so the next run's reauth check knows the consent's age; set in
    // the create itself, so the ServiceAccount needs no patch permission on the Secret.
    const consent = grantAnnotations(inputs, bytes, runDir)
    let current: SecretSnapshot
    if (!live && backup) {
      // A previous attempt deleted the Secret and stopped before creating it: recreate it
      // from the backup (other keys, labels, annotations) with the new content.
      log(`${where(inputs)} is missing; recreating it from the backup taken before the delete`)
      current = await createSecret(kube, fromBackup(backup, inputs, bytes, runDir), { signal })
      changed({ verb: 'create', target: where(inputs), context: kube.where, detail: `from this run's backup; key ${inputs.key} ${bytes.fingerprint}, ${bytes.length} bytes` })
    } else if (live && sameGrant(live, inputs.key, bytes)) {
      current = await updateSecret(kube, inPlace(live, inputs.key, bytes), { signal })
      log(`updated ${where(inputs)} key ${inputs.key} in place (${bytes.fingerprint}): same refresh token, creationTimestamp kept`)
      changed({ verb: 'update', target: where(inputs), context: kube.where, detail: `key ${inputs.key} ${live.data[inputs.key]!.fingerprint} -> ${bytes.fingerprint}, in place (same refresh token)` })
    } else {
      // Judged before any write: another host may have put a later consent there meanwhile.
      refuseOlderGrant(live, inputs, bytes, runDir, log)
      // A missing or paused consumer, or a Role without patch on it, would otherwise show only
      // after the Secret changed, leaving the new token unused by the old pods. Asked together
      // with the replace's own dry runs, all before its delete; its error is passed on as it is.
      let consumerRefusal: unknown
      const consumersRestartable = async () => {
        try {
          for (const name of inputs.deployments) await restartDeployment(kube, { namespace: inputs.namespace, name }, { dryRun: true, signal })
        } catch (e) {
          throw (consumerRefusal = e)
        }
      }
      const r = await replaceSecret(kube, {
        ...ref,
        key: inputs.key,
        value: bytes,
        annotations: consent,
        now: () => new Date(serverClock.now()),
        signal,
        read: { live }, // read just above: the delete's preconditions catch any change since
        alsoCheck: consumersRestartable,
        resumeCommand: runDir ? command('--resume', basename(runDir)) : undefined,
        beforeDelete: (prev) => {
          if (runDir) log(`backed up the previous Secret to ${saveBackup(runDir, prev)}`)
        },
      }).catch((e) => {
        throw e === consumerRefusal ? e : pointAtRole(e)
      })
      current = r.current
      log(`${r.action} ${where(inputs)} key ${inputs.key} (${bytes.fingerprint}, ${bytes.length} bytes)`)
      const before = r.previous?.data[inputs.key]
      if (r.action !== 'unchanged') changed({ verb: r.previous ? 'replace' : 'create', target: where(inputs), context: kube.where, detail: `key ${inputs.key} ${before ? `${before.fingerprint} -> ` : ''}${bytes.fingerprint}, ${bytes.length} bytes` })
    }
    return outputsOf(current, inputs.key)
  },

  // Before anything in the run changes (the consent included): the Secret as it is and the
  // verbs a replace needs, so a refusal comes before the new token exists, not after.
  async preflight({ inputs: i, signal }) {
    if (!i.namespace || !i.secret || !i.key) return {}
    return checkSecretTarget(await connect(targetOf(i)), { namespace: i.namespace, secret: i.secret, key: i.key }, signal, TARGETS_HINT)
  },

  // Before the re-auth, the new bytes (map-key's sha256) are unknown: look at the Secret and ask
  // the server whether the delete and create of a replace, and the restarts after it, would pass.
  async probe({ inputs: i, signal, runsDir, command }) {
    if (!i.namespace || !i.secret || !i.key) return { observed: 'target not known yet' }
    const t = { namespace: i.namespace, secret: i.secret }
    const kube = await connect(targetOf(i))
    const live = await readLive(kube, t, signal)
    const local = i.tokenFile ? localFile(i.tokenFile) : 'no token file given'
    const facts: string[] = []
    let change: Change
    if (!live) {
      const orphan = runWithBackup(runsDir, { namespace: t.namespace, name: t.secret })
      if (orphan) throw heldByRun(t, orphan, command)
      await createSecret(kube, { namespace: t.namespace, name: t.secret, data: { [i.key]: new SecretValue('') } }, { dryRun: true, signal }).catch((e) => {
        throw pointAtRole(e)
      })
      facts.push(`${where(t)} does not exist`)
      change = { verb: 'create', target: where(t), context: kube.where, detail: `key ${i.key} <- the re-authenticated token file (server dry run of the create passed)` }
    } else {
      refuseType(live, t)
      const have = live.data[i.key]
      const vsLocal = typeof local === 'string' ? `local file not readable (${local})` : have?.equals(local) ? 'matches the local file' : `local file ${local.fingerprint}`
      facts.push(`${where(t)} age ${ageOf(live)}, key ${i.key} ${have ? `${have.fingerprint}, ${have.length} bytes` : 'absent'}; ${vsLocal}`)
      await checkReplaceAllowed(kube, live, { signal }).catch((e) => {
        throw pointAtRole(e)
      })
      change = { verb: 'replace', target: where(t), context: kube.where, detail: `key ${i.key} <- the re-authenticated token file; delete+create so creationTimestamp marks the refresh (server dry run of both passed)` }
    }
    // The consumers the replace must not strand: apply checks them the same way first.
    for (const name of i.deployments ?? []) await restartDeployment(kube, { namespace: t.namespace, name }, { dryRun: true, signal })
    return { observed: facts.join('; '), changes: [change] }
  },

  async verify({ inputs, signal }, outputs) {
    const kube = await kubeOf(inputs)
    const live = await readSecret(kube, { namespace: inputs.namespace, name: inputs.secret }, { signal })
    if (!live || sha256Hex(live.data[inputs.key]?.reveal() ?? '') !== outputs.sha256) {
      throw new OpsError(`${where(inputs)} does not hold the new content after the write`, { reason: 'VerifyFailed', retryable: true })
    }
  },
})
