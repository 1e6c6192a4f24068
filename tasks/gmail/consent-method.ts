// What the configured consent is, what it asks Google for, and whether it can run on this host.
// reauth uses it to refuse a missing command before anything changes (in a dry run and --status
// too), and verify-scopes to give a refusal hint that is true for the client in use: ticking
// every box cannot add a scope the client never asks for.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { OpsError } from '../../lib/errors.ts'
import { expandHome } from '../../lib/paths.ts'
import { coverOf, shortScope } from '../../lib/oauth/scope-coverage.ts'
import type { TokenFile } from '../../lib/oauth/token-file.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const GMAIL = 'https://www.googleapis.com/auth/gmail.'

/** The repository's wrapper around the public gmail-sdk's GmailClient.authorize(); relative to the checkout. */
export const SDK_CONSENT_COMMAND = 'scripts/gmail-sdk-consent.sh'
/** `SCOPES` in gmail_sdk/auth.py 0.1.3 (python/requirements.txt): what its authorize() asks for. */
export const GMAIL_SDK_SCOPES: readonly string[] = [`${GMAIL}readonly`, `${GMAIL}send`, `${GMAIL}modify`, `${GMAIL}settings.basic`, 'https://mail.google.com/']

export interface ConsentMethodInputs {
  mode: 'external' | 'builtin'
  command: string
  requiredScopes: readonly string[]
  tokenFile: string
}

export interface ConsentMethod {
  /** For messages: "the built-in consent", "the gmail-sdk's authorize()", or the command. */
  label: string
  /** The scopes it asks Google for, when known. */
  requests?: readonly string[]
  /** external: the command's argv, argv[0] resolved to a path when found. */
  argv?: string[]
  /** Why it cannot run here (command not found, SDK not installed, ...), with what would work instead. */
  problem?: string
}

/**
 * The consent `inputs` configure. `file` is the current token file, if readable: a google-auth file
 * records the scopes its writer requested (research note §1.1), the best guess for an unknown command.
 */
export function consentMethod(i: ConsentMethodInputs, file?: TokenFile): ConsentMethod {
  if (i.mode === 'builtin') return { label: 'the built-in consent', requests: i.requiredScopes }
  const words = i.command.split(/\s+/).filter(Boolean)
  if (words.length === 0) return { label: 'reauthCommand', problem: `reauthCommand is empty; ${alternatives(i)}` }
  const path = resolveCommand(words[0])
  const argv = path ? [path, ...words.slice(1)] : words
  const sdk = path === resolve(ROOT, SDK_CONSENT_COMMAND)
  const method: ConsentMethod = sdk
    ? { label: `the gmail-sdk's authorize() (${SDK_CONSENT_COMMAND})`, requests: GMAIL_SDK_SCOPES, argv }
    : { label: `"${i.command}"`, requests: file?.format === 'google-auth' && file.scopes.length ? file.scopes : undefined, argv }
  if (!path) {
    const where = words[0].includes('/') ? `${words[0]} does not exist or is not executable` : `${words[0]} is not on PATH`
    return { ...method, problem: `reauthCommand "${i.command}" cannot run: ${where}; ${alternatives(i)}` }
  }
  if (sdk) {
    const problem = sdkNotReady(path, i.tokenFile)
    if (problem) return { ...method, problem: `reauthCommand ${SDK_CONSENT_COMMAND} is not ready: ${problem}; ${alternatives(i)}` }
  }
  return method
}

/** The error for a method with a problem: nothing has changed yet when it is thrown. */
export function notReady(m: ConsentMethod): OpsError {
  return new OpsError(m.problem!, { reason: 'CommandNotFound', hint: 'fix reauthCommand or pick one of the alternatives above, then run again; nothing was changed' })
}

/** The consents that would work here instead of the configured one. */
function alternatives(i: ConsentMethodInputs): string {
  const out = ['the built-in consent, nothing to install (PKCE, loopback redirect through ssh -L or pasted back): --set reauthMode=builtin']
  const sdk = resolve(ROOT, SDK_CONSENT_COMMAND)
  if (!i.command.startsWith(SDK_CONSENT_COMMAND) && !i.command.startsWith(sdk)) {
    const problem = sdkNotReady(sdk, i.tokenFile)
    out.push(
      `the public gmail-sdk's own consent (localhost:8090 through ssh -L): --set reauthMode=external --set reauthCommand=${SDK_CONSENT_COMMAND}` +
        (problem ? ` (not ready: ${problem})` : ''),
    )
  }
  return `working alternatives: ${out.map((a, n) => `(${n + 1}) ${a}`).join('; ')}`
}

/** argv[0] as the shell would find it: a path (relative ones from the checkout, like the default), or on PATH. */
export function resolveCommand(word: string): string | undefined {
  const candidates = word.includes('/')
    ? [isAbsolute(expandHome(word)) ? expandHome(word) : resolve(ROOT, word)]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, word))
  return candidates.find((p) => {
    try {
      accessSync(p, constants.X_OK)
      return statSync(p).isFile()
    } catch {
      return false
    }
  })
}

/** The wrapper's own readiness check (venv installed, file name, credentials.json); its message, or undefined. */
function sdkNotReady(script: string, tokenFile: string): string | undefined {
  const r = spawnSync(script, ['--check'], { env: { ...process.env, CREDFLOW_TOKEN_FILE: expandHome(tokenFile) }, encoding: 'utf8', timeout: 15_000 })
  if (r.status === 0) return undefined
  const line = (r.stderr ?? '').trim().split('\n').pop() ?? ''
  return line.replace(/^gmail-sdk-consent\.sh: /, '') || `${SDK_CONSENT_COMMAND} --check exited ${r.status ?? r.signal}`
}

/**
 * What to say when the grant lacks `missing`. Ticking every box helps only for scopes the
 * consent asks for; for the others the client or `requiredScopes` must change.
 */
export function missingScopesHint(missing: readonly string[], m: ConsentMethod, redo: string): { neverRequested: string[]; hint: string } {
  const neverRequested = m.requests ? missing.filter((s) => !coverOf(s, m.requests!)) : []
  if (neverRequested.length) {
    const names = neverRequested.map(shortScope).join(', ')
    return {
      neverRequested,
      hint:
        `${m.label} never asks Google for ${names}, so no consent with it can grant ${neverRequested.length === 1 ? 'it' : 'them'}: ` +
        `change requiredScopes (drop ${names}, or require a scope the grant covers), or consent with a client that asks for ${neverRequested.length === 1 ? 'it' : 'them'} ` +
        `(--set reauthMode=builtin asks for exactly requiredScopes); then ${redo}`,
    }
  }
  const unknown = m.requests ? '' : ` (and check that ${m.label} asks for ${missing.map(shortScope).join(', ')})`
  return { neverRequested, hint: `consent again and tick every box on the consent screen (Google lets users untick scopes)${unknown}: ${redo}` }
}
