// verify-scopes: refresh against Google and trust only the response: every required scope
// covered by a granted one (the same string, or a broader scope the Gmail API reference accepts
// wherever the required one is accepted: lib/oauth/scope-coverage.ts; the file's own `scopes`
// list is what was asked, not what was granted), tokeninfo's azp/aud equal the client id, and
// Gmail says the mailbox is the expected account. A token of another account is never synced.
import { z } from 'zod'
import { defineStep, type StepContext } from '../../lib/engine/step.ts'
import { OpsError, isOpsError } from '../../lib/errors.ts'
import { expandHome } from '../../lib/paths.ts'
import { parseDuration } from '../../lib/duration.ts'
import { probeToken, type TokenProbe } from '../../lib/oauth/token-probe.ts'
import { describeCover, shortScope } from '../../lib/oauth/scope-coverage.ts'
import { consentMethod, missingScopesHint } from './consent-method.ts'

const Inputs = z.object({
  account: z.string().email(),
  tokenFile: z.string().min(1),
  clientSecretsFile: z.string().default(''),
  requiredScopes: z.array(z.string()).min(1),
  /** The configured consent (reauth's mode and command): what a refusal can honestly advise. */
  mode: z.enum(['external', 'builtin']).default('builtin'),
  command: z.string().default(''),
  /** reauth's view of the file; verify-scopes checks the file as it is now. */
  tokenFingerprint: z.string().optional(),
  endpoints: z.object({ authUrl: z.string(), tokenUrl: z.string(), tokeninfoUrl: z.string(), gmailProfileUrl: z.string() }).partial().default({}),
  /** Per request to Google. */
  requestTimeout: z.string().default('30s'),
})
type In = z.infer<typeof Inputs>
type Command = StepContext<In>['command']

async function verify(i: In, signal: AbortSignal, command: Command): Promise<TokenProbe> {
  // --resume would keep reauth's success and fail here again; --from reruns reauth, whose check now wants a consent.
  const redo = command('--from', 'reauth')
  const probe = await probeToken({
    tokenFile: expandHome(i.tokenFile),
    clientSecretsFile: i.clientSecretsFile ? expandHome(i.clientSecretsFile) : undefined,
    endpoints: i.endpoints,
    requiredScopes: i.requiredScopes,
    signal,
    timeoutMs: parseDuration(i.requestTimeout),
  })
  if (probe.email.toLowerCase() !== i.account.toLowerCase()) {
    throw new OpsError(`the token belongs to ${probe.email}, not ${i.account}: refusing to sync another account's token`, {
      reason: 'WrongAccount',
      hint: `consent again and sign in as ${i.account} (the consent screen's account chooser): ${redo}`,
    })
  }
  if (probe.missingScopes.length) {
    const { hint } = missingScopesHint(probe.missingScopes, consentMethod(i, probe.file), redo)
    const covered = probe.covers.length ? `; covered: ${probe.covers.map(describeCover).join(', ')}` : ''
    throw new OpsError(
      `the grant lacks ${probe.missingScopes.length} required scope(s): ${probe.missingScopes.join(', ')} (granted: ${probe.grantedScopes.map(shortScope).join(' ') || 'none'}${covered})`,
      { reason: 'ScopesMissing', hint },
    )
  }
  return probe
}

const outputsOf = (p: TokenProbe) => ({
  account: p.email,
  clientId: p.client.clientId,
  grantedScopes: p.grantedScopes,
  // required scope -> the granted scope that covers it
  coveredBy: Object.fromEntries(p.covers.map((c) => [c.required, c.by])),
  tokenFingerprint: p.file.fingerprint,
})

export default defineStep({
  description: 'refresh against Google and check scopes, client and account',
  inputs: Inputs,
  async check({ inputs, signal, dryRun, command }) {
    try {
      const p = await verify(inputs, signal, command)
      return {
        done: true,
        outputs: outputsOf(p),
        observed: `all ${inputs.requiredScopes.length} required scopes covered for ${p.client.clientId}: ${p.covers.map(describeCover).join(', ')}; Gmail confirms ${p.email}`,
      }
    } catch (e) {
      // In a dry run the re-auth has not happened yet: a dead token is expected, not a failure.
      if (dryRun && isOpsError(e) && ['invalid_grant', 'TokenFileMissing', 'TokenFileInvalid'].includes(e.reason)) {
        return { done: false, reason: `cannot verify before re-auth (${e.reason})` }
      }
      throw e
    }
  },
  async plan({ inputs }) {
    const required = inputs.requiredScopes.map(shortScope).join(', ')
    return { changes: [{ verb: 'verify', target: `token of ${inputs.account}`, detail: `refresh at ${inputs.endpoints.tokenUrl ?? 'Google'}; require ${required}, each granted or covered by a broader granted scope` }] }
  },
  async apply({ inputs, signal, command }) {
    return outputsOf(await verify(inputs, signal, command))
  },
})
