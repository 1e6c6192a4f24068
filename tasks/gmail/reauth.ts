// reauth: make sure the local token file holds a working refresh token from a recent
// consent. check() asks Google (refresh) and looks at the consent's age; apply() runs the
// consent: this tool's loopback flow with PKCE (builtin, the default: nothing to install,
// works over SSH), writing the file in the format its consumer reads (tokenFormat), or an
// external command on the terminal (the public gmail-sdk's authorize() through
// scripts/gmail-sdk-consent.sh, or `gmail-mcp reauth` where installed). A command that cannot
// run here is refused before anything changes. The previous token is never revoked: Google's
// revocation is project-wide and would kill the new token too (research note §2.6).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { statUserFile } from '../../lib/safe-open.ts'
import { basename, dirname, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hostname, userInfo } from 'node:os'
import { z } from 'zod'
import { defineStep, type StepContext } from '../../lib/engine/step.ts'
import { OpsError, isOpsError } from '../../lib/errors.ts'
import { parseDuration, formatDuration } from '../../lib/duration.ts'
import { expandHome } from '../../lib/paths.ts'
import { sha256Hex } from '../../lib/secret-value.ts'
import { readSecretFile } from '../../lib/secret-file.ts'
import { nextStdinLine } from '../../lib/stdin-lines.ts'
import { probeToken, clientFor, besideCredentials, type TokenProbe } from '../../lib/oauth/token-probe.ts'
import { readTokenFile, writeTokenFile, MAX_TOKEN_FILE_BYTES, type TokenFile, type TokenFileFormat } from '../../lib/oauth/token-file.ts'
import { GOOGLE_ENDPOINTS } from '../../lib/oauth/endpoints.ts'
import { describeCover } from '../../lib/oauth/scope-coverage.ts'
import { SDK_CONSENT_COMMAND, consentMethod, missingScopesHint, notReady, type ConsentMethod } from './consent-method.ts'
import { readClientSecrets } from '../../lib/oauth/client-secrets.ts'
import { runLoopbackFlow } from '../../lib/oauth/loopback-flow.ts'
import { gmailProfile } from '../../lib/oauth/google-client.ts'
import { compareScopes } from '../../lib/oauth/scopes.ts'
import { shellQuote } from '../../lib/engine/command.ts'
import { processIdentity } from '../../lib/engine/run-lock.ts'
import { loadSecretsRegistry, findEntry } from '../../lib/registry.ts'
import type { Health } from '../../lib/engine/health.ts'
import { DAY_MS, deadlineOf, deadlineHeadline, tokenState, consentLine, formatWhen, type Consent } from '../../lib/expiry.ts'
import { consentClock, consentTime, grantOf, GOOGLE_TESTING_EXPIRY_MS, type ConsentClock, type ConsentLookup } from './consent-time.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const Target = z.object({ namespace: z.string(), secret: z.string() }).passthrough()
const Inputs = z.object({
  account: z.string().email(),
  tokenFile: z.string().min(1),
  mode: z.enum(['external', 'builtin']),
  command: z.string().default(SDK_CONSENT_COMMAND),
  /** builtin: the format of the file it writes; auto keeps the existing file's, else gmail-sdk (basketball-api's reader). */
  tokenFormat: z.enum(['auto', 'gmail-sdk', 'google-auth', 'node']).default('auto'),
  clientSecretsFile: z.string().default(''),
  loopbackPort: z.number().int().min(0).max(65535).default(0),
  requiredScopes: z.array(z.string()).min(1),
  reauthAfter: z.string().refine((s) => parseDuration(s) !== undefined, 'must be a duration like 5d'),
  registry: z.string().default(''),
  targets: z.array(Target).default([]),
  kubeconfig: z.string().default(''),
  context: z.string().default(''),
  /** The operator's word for the consent time (RFC 3339), when only an estimate is known. */
  consentedAt: z.string().default(''),
  /** Per request to Google and Kubernetes. */
  requestTimeout: z.string().default('30s'),
  endpoints: z.object({ authUrl: z.string(), tokenUrl: z.string(), tokeninfoUrl: z.string(), gmailProfileUrl: z.string() }).partial().default({}),
})
type In = z.infer<typeof Inputs>
type Ctx = StepContext<In>

/**
 * What --status and a dry run can still say about a dead token: when its consent was and how
 * that compares with the deadline, and the command that fixes it.
 */
async function deadTokenFacts(ctx: Ctx, policy: Policy): Promise<{ observed: string; health: Health }> {
  // A run that is about to do the consent itself needs no command to go and run.
  const command = `cd ${operatorCheckout()} && scripts/gmail-reauth.sh`
  const fix = ctx.dryRun || !ctx.interactive ? `token is dead, re-auth needed now: ${command} (the weekly runbook in README.md)` : 'token is dead, re-auth needed now'
  const health = (headline: string, consent?: Consent, expiresAt?: Date): Health => ({
    state: 'dead',
    headline,
    expiresAt: expiresAt ? expiresAt.toISOString() : null,
    consentedAt: consent ? consent.at.toISOString() : null,
    source: consent?.source ?? null,
    ...(consent ? { consent: consentLine(consent) } : {}),
    next: command,
  })
  let file: TokenFile
  try {
    file = readTokenFile(expandHome(ctx.inputs.tokenFile))
  } catch {
    return { observed: fix, health: health('DEAD: Google refuses the refresh token (invalid_grant)') }
  }
  const clock = await consentClock(ctx.inputs, ctx.signal)
  const consent = await consentTime(lookup(ctx, policy, false, clock), { file }).catch(() => undefined)
  if (!consent) return { observed: fix, health: health('DEAD: Google refuses the refresh token (invalid_grant)') }
  const deadline = deadlineOf(consent, policy.lifetimeMs)
  const now = clock.now()
  const left = deadline ? deadline.getTime() - now : undefined
  // gmail-mcp rewrites the file on every refresh: an estimate from its times says when it was last written, not when consent was.
  const early = consent.source === 'estimate' ? 'so the consent is older than the estimate, or the token was revoked' : 'revoked early (a password change or a revocation)'
  const age = formatDuration(now - consent.at.getTime())
  const when =
    left === undefined
      ? `consent ${age} ago (${consent.source}: ${consent.from}), no deadline, yet Google refuses it: revoked (a password change or a revocation)`
      : left > 0
        ? `consent ${age} ago (${consent.source}: ${consent.from}), ${formatDuration(left)} left before the ${policy.days}-day deadline, yet Google refuses it: ${early}`
        : `consent ${age} ago (${consent.source}: ${consent.from}), 0d left: the ${policy.days}-day deadline passed ${formatDuration(-left)} ago`
  const headline = left !== undefined && left <= 0 ? `DEAD since ${formatWhen(deadline!)}: Google's deadline passed` : 'DEAD: Google refuses the refresh token (revoked early)'
  return { observed: `${fix}; ${when}`, health: health(headline, consent, deadline) }
}

/** The registry's rotation policy: the grant's lifetime when Google does not say it. */
interface Policy {
  text: string
  days: number
  /** undefined: the app is In production, the grant does not expire. */
  lifetimeMs: number | undefined
}

function rotationPolicy(i: In): Policy {
  try {
    const path = i.registry ? (isAbsolute(i.registry) ? i.registry : join(ROOT, i.registry)) : undefined
    const e = findEntry('gmail_oauth_token', loadSecretsRegistry(path))
    const published = e.publishing_status === 'in_production'
    const text = published
      ? `no rotation deadline: the app is In production (secrets registry ${e.id}, ${e.origin})`
      : `rotation every ${e.rotation_days}d (secrets registry ${e.id}, ${e.origin})`
    return { text, days: e.rotation_days, lifetimeMs: published ? undefined : e.rotation_days * DAY_MS }
  } catch (e) {
    // Unknown policy: assume Google's Testing-mode 7 days, the shorter life.
    return { text: `rotation policy unknown (${(e as Error).message.split('\n')[0]})`, days: 7, lifetimeMs: GOOGLE_TESTING_EXPIRY_MS }
  }
}

const lookup = (ctx: Ctx, policy: Policy, alive: boolean, clock: ConsentClock): ConsentLookup => ({ inputs: ctx.inputs, previousOutputs: ctx.previousOutputs, signal: ctx.signal, lifetimeMs: policy.lifetimeMs, alive, clock })

/** The credential's health for --status: headline, deadline and how the consent is known. */
function healthOf(consent: Consent, deadline: Date | undefined, now: number): Health {
  const state = tokenState(deadline, now)
  return {
    state,
    headline: deadlineHeadline(deadline, now),
    expiresAt: deadline ? deadline.toISOString() : null,
    consentedAt: consent.at.toISOString(),
    source: consent.source,
    consent: consentLine(consent, now),
    ...(state === 'healthy' ? {} : { next: `cd ${operatorCheckout()} && scripts/gmail-reauth.sh` }),
  }
}

/** The token file as it is, if it parses: what the consent method and the builtin flow build on. */
function readableFile(i: In): TokenFile | undefined {
  try {
    return readTokenFile(expandHome(i.tokenFile))
  } catch {
    return undefined
  }
}

function isEmpty(tokenFile: string): boolean {
  try {
    return statUserFile(tokenFile, { what: 'token file' })?.size === 0
  } catch {
    return false
  }
}

/** A consent is due: say now, also in --status and a dry run, when the configured one cannot run. */
const methodNote = (m: ConsentMethod) => (m.problem ? `; and the consent cannot run as configured: ${m.problem}` : '')

/** builtin: what it writes. auto keeps the consumer's format; a new file gets the gmail-sdk's, which basketball-api reads. */
function outputFormat(i: In): TokenFileFormat {
  if (i.tokenFormat !== 'auto') return i.tokenFormat
  return readableFile(i)?.format ?? 'gmail-sdk'
}

/** "gmail-sdk", or "google-auth (was gmail-sdk: tokenFormat)" when the consumer's format would change. */
function formatChange(i: In): string {
  const now = readableFile(i)?.format
  const next = outputFormat(i)
  return now && now !== next ? `${next} (the file is ${now} now: its consumer must read ${next}; tokenFormat=${i.tokenFormat})` : next
}

const probeOf = (i: In, signal: AbortSignal) =>
  probeToken({ tokenFile: expandHome(i.tokenFile), clientSecretsFile: i.clientSecretsFile ? expandHome(i.clientSecretsFile) : undefined, endpoints: i.endpoints, requiredScopes: i.requiredScopes, signal, timeoutMs: parseDuration(i.requestTimeout) })

/**
 * consentedAt is on `consentClock` (the apiserver's when it answered; a stated time is the wall
 * clock's, taken as the apiserver's); consentBy names the process whose apply did the consent
 * ('' otherwise): update-secret in that same process, which has held the Lease since before the
 * consent, knows the grant is the newest.
 */
function outputs(i: In, c: { consent: Consent; deadline: Date | undefined; clock: ConsentClock; by?: string }, probe: Pick<TokenProbe, 'file'>) {
  return {
    grant: grantOf(probe),
    account: i.account,
    consentedAt: c.consent.at.toISOString(),
    consentClock: c.consent.source === 'stated' ? 'apiserver' : c.clock.kind,
    consentBy: c.by ?? '',
    consentSource: c.consent.source,
    /** '' when the grant does not expire. */
    expiresAt: c.deadline ? c.deadline.toISOString() : '',
    tokenFingerprint: probe.file.fingerprint,
    format: probe.file.format,
  }
}

export default defineStep({
  description: 'consent in a browser when the refresh token is dead or too old',
  inputs: Inputs,

  async check(ctx) {
    const i = ctx.inputs
    const policy = rotationPolicy(i)
    let probe: TokenProbe
    try {
      probe = await probeOf(i, ctx.signal)
    } catch (e) {
      if (!isOpsError(e)) throw e
      // A missing, empty or dead token is exactly what this step fixes; anything else is not.
      // A file that is there but broken is not overwritten: it may be what a consumer needs to keep.
      const note = methodNote(consentMethod(i, readableFile(i)))
      if (e.reason === 'invalid_grant') {
        const dead = await deadTokenFacts(ctx, policy)
        return { done: false, reason: 'the refresh token is expired or revoked (invalid_grant)' + note, observed: `${dead.observed}; ${policy.text}`, health: dead.health }
      }
      if (e.reason === 'TokenFileMissing' || e.reason === 'NoRefreshToken' || (e.reason === 'TokenFileInvalid' && isEmpty(i.tokenFile))) {
        const health: Health = { state: 'absent', headline: `ABSENT: no usable token (${e.message})`, expiresAt: null, consentedAt: null, source: null, next: `cd ${operatorCheckout()} && scripts/gmail-reauth.sh` }
        return { done: false, reason: e.message + note, observed: policy.text, health }
      }
      if (e.reason === 'TokenFileInvalid') {
        throw new OpsError(`${e.message}; a consent would overwrite it, so nothing was changed`, {
          reason: e.reason,
          hint: `look at it (its consumer may still need it), then move it aside and run again to consent afresh: mv ${i.tokenFile} ${i.tokenFile}.broken`,
        })
      }
      throw e
    }
    const method = consentMethod(i, probe.file)
    // A token that works but cannot do the job also needs a new consent: otherwise verify-scopes
    // keeps failing and nothing in the workflow ever asks again. Unless the consent cannot add
    // the scope at all: then asking again would only repeat the same grant.
    // A grant that cannot do the job is as good as absent: nothing downstream may use it.
    const unusable = (reason: string) => ({ done: false as const, reason, observed: policy.text, health: { state: 'absent' as const, headline: `ABSENT: no usable token (${reason})`, expiresAt: null, consentedAt: null, source: null, next: `cd ${operatorCheckout()} && scripts/gmail-reauth.sh` } })
    if (probe.missingScopes.length) {
      const { neverRequested, hint } = missingScopesHint(probe.missingScopes, method, ctx.command())
      if (neverRequested.length) {
        throw new OpsError(`the grant lacks ${probe.missingScopes.join(', ')}, which ${method.label} never asks for; nothing was changed`, { reason: 'ScopesNeverRequested', hint })
      }
      return unusable(`the grant lacks ${probe.missingScopes.join(', ')}: consent again and tick every box` + methodNote(method))
    }
    if (probe.email.toLowerCase() !== i.account.toLowerCase()) return unusable(`the token belongs to ${probe.email}, not ${i.account}: consent again as ${i.account}` + methodNote(method))
    const clock = await consentClock(i, ctx.signal)
    const consent: Consent = (await consentTime(lookup(ctx, policy, true, clock), probe)) ?? { at: new Date(0), source: 'estimate', from: 'nothing: the token file has no times' }
    const deadline = deadlineOf(consent, policy.lifetimeMs)
    const now = clock.now()
    const age = now - consent.at.getTime()
    const limit = parseDuration(i.reauthAfter)!
    const left = deadline ? deadline.getTime() - now : undefined
    const until = left === undefined ? 'no deadline (In production)' : left > 0 ? `${formatDuration(left)} left before the deadline ${deadline!.toISOString()}` : 'past the deadline'
    const estimate = consent.source === 'estimate' ? ' (an ESTIMATE: state it with --set consentedAt=<RFC 3339 time>)' : ''
    const facts =
      `token works for ${probe.email} (${probe.file.format} file; ${probe.covers.map(describeCover).join(', ')}); ` +
      `consent ${formatDuration(age)} ago (${consent.source}: ${consent.from})${estimate}, ${until}; ${policy.text}`
    const health = healthOf(consent, deadline, now)
    // With no deadline, reauthAfter still asks for a fresh consent now and then: harmless, and the operator keeps the habit.
    if (age >= limit && deadline) return { done: false, reason: `consent is ${formatDuration(age)} old (reauthAfter ${i.reauthAfter})` + methodNote(method), observed: facts, health }
    const later = method.problem ? `; the next consent will not run as configured: ${method.problem}` : ''
    return { done: true, outputs: outputs(i, { consent, deadline, clock }, probe), observed: (deadline ? `${facts}; re-auth due in ${formatDuration(Math.max(0, limit - age))}` : facts) + later, health }
  },

  async plan({ inputs: i }) {
    const method = consentMethod(i, readableFile(i))
    if (method.problem) throw notReady(method)
    const how =
      i.mode === 'external'
        ? `run ${method.label} on this terminal; it must rewrite ${i.tokenFile}`
        : `browser consent for ${i.account} via a loopback redirect on 127.0.0.1${i.loopbackPort ? `:${i.loopbackPort}` : ''} (ssh -L), then write ${i.tokenFile} as ${formatChange(i)}`
    return { changes: [{ verb: 'consent', target: `Google account ${i.account}`, detail: how }] }
  },

  async apply(ctx) {
    const i = ctx.inputs
    const path = expandHome(i.tokenFile)
    const method = consentMethod(i, readableFile(i))
    // Before the terminal is handed over or a port is opened: nothing has changed yet.
    if (method.problem) throw notReady(method)
    // The consent happens during the command: its start is the earliest plausible time.
    const started = new Date()
    if (i.mode === 'external') await runExternal(ctx, path, method)
    else await runBuiltin(ctx, path)
    const clock = await consentClock(i, ctx.signal)
    // The new file must work before anything downstream trusts it.
    const probe = await probeOf(i, ctx.signal)
    const policy = rotationPolicy(i)
    const consent: Consent = (probe.refreshTokenExpiresIn !== undefined ? await consentTime(lookup(ctx, policy, true, clock), probe) : undefined) ?? { at: new Date(clock.fromLocal(started.getTime())), source: 'recorded', from: "this run's consent" }
    const deadline = deadlineOf(consent, policy.lifetimeMs)
    ctx.log(`token file ${i.tokenFile} now ${probe.file.fingerprint} (${probe.file.format}); refresh works for ${probe.email}; ${deadlineHeadline(deadline, clock.now())}`)
    return outputs(i, { consent, deadline, clock, by: ctx.runDir ? processIdentity(basename(ctx.runDir)) : undefined }, probe)
  },

  // Before anything runs: the files are what they claim to be, and the client secrets (if
  // given) are for the client that issued the token; a wrong pair fails only at Google.
  async preflight({ inputs: i }) {
    const checked: string[] = []
    const problems: Array<{ message: string; hint?: string }> = []
    const judge = (fn: () => void) => {
      try {
        fn()
      } catch (e) {
        if (!isOpsError(e)) throw e
        problems.push({ message: e.message, hint: e.hint })
      }
    }
    let file: TokenFile | undefined
    if (i.tokenFile) {
      judge(() => {
        if (!statUserFile(i.tokenFile!, { what: 'token file', maxBytes: MAX_TOKEN_FILE_BYTES, secret: true })) return void checked.push(`token file ${i.tokenFile} does not exist yet: the consent writes it`)
        try {
          file = readTokenFile(expandHome(i.tokenFile!))
          checked.push(`token file ${i.tokenFile}: ${file.format}, ${file.fingerprint}`)
        } catch (e) {
          // What it is was judged above: a content problem (no refresh token, unknown format) is what the consent fixes.
          if (isOpsError(e)) checked.push(`token file ${i.tokenFile} is not usable (${e.message}): the consent replaces it`)
          else throw e
        }
      })
    }
    if (i.clientSecretsFile) {
      judge(() => {
        const secrets = readClientSecrets(expandHome(i.clientSecretsFile!))
        if (file?.clientId && file.clientId !== secrets.clientId) {
          throw new OpsError(`client secrets file ${i.clientSecretsFile} is for client ${secrets.clientId}, but the token file was issued to client ${file.clientId}`, {
            reason: 'ClientMismatch',
            hint: 'give the client secrets of the client that issued the token (Google Cloud Console → Credentials), or leave clientSecretsFile empty to use the token file\'s own client',
          })
        }
        checked.push(`client secrets file ${i.clientSecretsFile}: client ${secrets.clientId}`)
      })
    }
    // External mode: a command that cannot run here fails the consent; refused before any change.
    if (i.mode === 'external' && i.command !== undefined) {
      const method = consentMethod({ mode: 'external', command: i.command, requiredScopes: i.requiredScopes ?? [], tokenFile: i.tokenFile ?? '' }, file)
      if (method.problem) problems.push({ message: method.problem, hint: notReady(method).hint })
      else checked.push(`reauthCommand ${method.argv![0]} is executable`)
    }
    return { checked, problems }
  },

  runbook: ({ inputs: i }) => {
    const checkout = operatorCheckout()
    if (i.mode === 'external') {
      const sets = `-- --set reauthMode=external${i.command === SDK_CONSENT_COMMAND ? '' : ` --set reauthCommand=${shellQuote(i.command)}`}`
      if (i.command === SDK_CONSENT_COMMAND) {
        // The SDK's redirect is http://localhost:8090, fixed: the tunnel must be there before it starts.
        return [
          `consent needs a person at a browser. Over SSH on ${hostname()}:`,
          `  1. ssh -L 8090:127.0.0.1:8090 ${safeUser()}@${hostname()}   (the tunnel for the gmail-sdk's redirect to localhost:8090)`,
          `  2. cd ${checkout} && scripts/gmail-reauth.sh ${sets}   (runs the gmail-sdk's authorize() on your terminal)`,
          `  3. open the URL it prints in your local browser, sign in as ${i.account}, tick EVERY Gmail box`,
          FINISH,
        ].join('\n')
      }
      // The upstream tool prints its URL and takes the answer on the terminal: no tunnel needed.
      return [
        `consent needs a person at a browser. Over SSH on ${hostname()}:`,
        `  1. ssh ${safeUser()}@${hostname()}`,
        `  2. cd ${checkout} && scripts/gmail-reauth.sh ${sets}   (runs ${i.command} on your terminal)`,
        `  3. open the URL it prints in your local browser, sign in as ${i.account}, tick EVERY Gmail box, and give it back what it asks for`,
        FINISH,
      ].join('\n')
    }
    // The tunnel must be open before the consent, so the port has to be fixed: the configured one, else 8765.
    const port = i.loopbackPort || 8765
    return [
      `consent needs a person at a browser. Over SSH on ${hostname()}:`,
      `  1. ssh -L ${port}:127.0.0.1:${port} ${safeUser()}@${hostname()}   (the tunnel for the loopback redirect)`,
      `  2. cd ${checkout} && scripts/gmail-reauth.sh -- --set reauthMode=builtin --set loopbackPort=${port}`,
      `  3. open the printed URL in your local browser, sign in as ${i.account}, tick EVERY Gmail box`,
      FINISH,
    ].join('\n')
  },
})

const FINISH = '  4. the same command then finishes the sync (steps already done are checked, not redone); a Forgejo job can then be dispatched again with resume=true'

/**
 * Where the operator runs the tool. In a CI job (Forgejo, GitHub and act runners set
 * GITHUB_ACTIONS) this checkout is the job's scratch copy, removed when the job ends: do not
 * send the operator there.
 */
function operatorCheckout(): string {
  return process.env.GITHUB_ACTIONS === 'true' ? '<your credflow checkout>' : ROOT.replace(/\/$/, '')
}

function safeUser(): string {
  try {
    return userInfo().username
  } catch {
    return 'operator'
  }
}

function fileSha(path: string): string | undefined {
  try {
    return sha256Hex(readSecretFile(path).bytes.reveal())
  } catch {
    return undefined
  }
}

/** What an external command learns from us: where the token goes, and non-Google endpoints (a stand-in). No secrets. */
function childEnv(i: In, path: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CREDFLOW_TOKEN_FILE: path, CREDFLOW_ACCOUNT: i.account }
  if (i.endpoints.authUrl && i.endpoints.authUrl !== GOOGLE_ENDPOINTS.authUrl) env.CREDFLOW_AUTH_URL = i.endpoints.authUrl
  if (i.endpoints.tokenUrl && i.endpoints.tokenUrl !== GOOGLE_ENDPOINTS.tokenUrl) env.CREDFLOW_TOKEN_URL = i.endpoints.tokenUrl
  return env
}

async function runExternal(ctx: Ctx, path: string, method: ConsentMethod): Promise<void> {
  const argv = method.argv!
  const before = fileSha(path)
  ctx.log(`running ${ctx.inputs.command} (it prints a URL; open it, consent, and answer what it asks)`)
  const code = await ctx.withTerminal(
    () =>
      new Promise<number>((resolve, reject) => {
        // No token material in argv: the command reads and writes the file itself.
        const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', signal: ctx.signal, env: childEnv(ctx.inputs, path) })
        child.on('error', (e) =>
          reject(
            (e as NodeJS.ErrnoException).code === 'ENOENT'
              ? new OpsError(`reauth command not found: ${argv[0]}`, { reason: 'CommandNotFound', hint: 'use the built-in flow: --set reauthMode=builtin' })
              : e,
          ),
        )
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)))
      }),
  )
  if (code !== 0) throw new OpsError(`${argv.join(' ')} exited with ${code}; the token file was not accepted`, { reason: 'ReauthFailed', hint: 'run it by hand to see its error, then rerun with --resume' })
  const after = fileSha(path)
  if (!after) throw new OpsError(`${argv.join(' ')} finished but ${path} does not exist`, { reason: 'TokenFileMissing', hint: `check where ${argv[0]} writes its token; --set tokenFile=<path>` })
  if (after === before) throw new OpsError(`${argv.join(' ')} finished but did not change ${path}`, { reason: 'TokenFileUnchanged', hint: 'the consent did not complete; run it again and finish the browser step' })
  readTokenFile(path) // valid format with a refresh_token, or a clear error
  ctx.changed({ verb: 'write', target: path, detail: `new consent of ${ctx.inputs.account} by ${argv[0]}: sha256:${after.slice(0, 12)}` })
}

async function runBuiltin(ctx: Ctx, path: string): Promise<void> {
  const i = ctx.inputs
  let previous: TokenFile | undefined
  try {
    previous = readTokenFile(path)
  } catch {
    previous = undefined // missing or empty (check refuses a broken one): a fresh file in tokenFormat is written
  }
  const client = clientFor(previous, i.clientSecretsFile ? expandHome(i.clientSecretsFile) : undefined, path)
  const format = outputFormat(i)
  const result = await ctx.withTerminal(() =>
    runLoopbackFlow({
      client,
      scopes: i.requiredScopes,
      loginHint: i.account,
      port: i.loopbackPort,
      print: (line) => process.stderr.write(line + '\n'),
      readPastedLine: (stop) => nextStdinLine(stop),
      signal: ctx.signal,
      endpoints: i.endpoints,
    }),
  )
  ctx.log(`consent received via ${result.via}; granted ${result.grantedScopes.length} scope(s)`)
  // Judge the new grant before it replaces the file: a consent with unticked boxes or the
  // wrong account must not overwrite a token that still works.
  const { missing } = compareScopes(result.grantedScopes, i.requiredScopes)
  if (missing.length) {
    throw new OpsError(`the consent granted ${result.grantedScopes.length} scope(s) but not: ${missing.join(', ')}; ${path} was left as it was`, {
      reason: 'ScopesMissing',
      hint: 'run again and tick every box on the consent screen',
    })
  }
  const profile = await gmailProfile(result.tokens.accessToken, { endpoints: i.endpoints, signal: ctx.signal, timeoutMs: parseDuration(i.requestTimeout) })
  if (profile.emailAddress.toLowerCase() !== i.account.toLowerCase()) {
    throw new OpsError(`the consent was given as ${profile.emailAddress}, not ${i.account}; ${path} was left as it was`, {
      reason: 'WrongAccount',
      hint: `run again and choose ${i.account} in Google's account chooser`,
    })
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const w = writeTokenFile(path, result.tokens, { previous, client, format })
  ctx.log(`wrote ${path} (${w.format}, ${w.fingerprint}, mode 0600)`)
  // A gmail-sdk file has no client in it: the SDK takes it from credentials.json in the same directory.
  if (w.format === 'gmail-sdk' && !existsSync(besideCredentials(path))) {
    ctx.log(`note: a gmail-sdk consumer reads the client from ${besideCredentials(path)}, which does not exist here; the Secret's consumer needs it beside the mounted file`)
  }
  ctx.changed({ verb: 'write', target: path, detail: `new consent of ${i.account}: ${w.format}, ${w.fingerprint}` })
}
