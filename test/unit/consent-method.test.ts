// tasks/gmail/consent-method.ts: which consent is configured, whether it can run here, and a
// refusal hint that is true for it (ticking boxes cannot add a scope the client never asks for).
import { describe, it, expect } from 'vitest'
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GMAIL_SDK_SCOPES, SDK_CONSENT_COMMAND, consentMethod, missingScopesHint, resolveCommand } from '../../tasks/gmail/consent-method.ts'
import { parseTokenFile } from '../../lib/oauth/token-file.ts'
import { ROOT } from '../python/clients.ts'

const G = (s: string) => `https://www.googleapis.com/auth/gmail.${s}`
const REQUIRED = [G('send'), G('readonly'), G('modify'), G('labels')]
const base = { mode: 'external' as const, requiredScopes: REQUIRED, tokenFile: '/nonexistent/gmail-x.json' }

describe('resolveCommand', () => {
  it('finds a bare name on PATH, a relative path from the checkout, an absolute path; not what is missing or not executable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credflow-cmd-'))
    try {
      writeFileSync(join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 })
      writeFileSync(join(dir, 'plain'), 'not executable', { mode: 0o644 })
      mkdirSync(join(dir, 'adir'))
      const path = process.env.PATH
      process.env.PATH = `${dir}:${path}`
      try {
        expect(resolveCommand('tool')).toBe(join(dir, 'tool'))
        expect(resolveCommand('plain')).toBeUndefined()
        expect(resolveCommand('adir')).toBeUndefined()
        expect(resolveCommand('no-such-tool-credflow')).toBeUndefined()
      } finally {
        process.env.PATH = path
      }
      expect(resolveCommand(join(dir, 'tool'))).toBe(join(dir, 'tool'))
      expect(resolveCommand(SDK_CONSENT_COMMAND)).toBe(join(ROOT, SDK_CONSENT_COMMAND))
      chmodSync(join(dir, 'tool'), 0o644)
      expect(resolveCommand(join(dir, 'tool'))).toBeUndefined()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('consentMethod', () => {
  it('builtin asks for exactly requiredScopes and always can run', () => {
    expect(consentMethod({ ...base, mode: 'builtin', command: 'whatever' })).toEqual({ label: 'the built-in consent', requests: REQUIRED })
  })

  it('a command not on PATH is a problem naming it and the alternatives that work', () => {
    const m = consentMethod({ ...base, command: 'gmail-mcp reauth' })
    expect(m.problem).toMatch(/^reauthCommand "gmail-mcp reauth" cannot run: gmail-mcp is not on PATH; working alternatives: \(1\) the built-in consent, nothing to install .*--set reauthMode=builtin; \(2\) the public gmail-sdk's own consent .*--set reauthCommand=scripts\/gmail-sdk-consent\.sh \(not ready: .*credentials\.json/)
  })

  it("the SDK wrapper is known to ask for the SDK's scopes, and says why it is not ready", () => {
    const m = consentMethod({ ...base, command: SDK_CONSENT_COMMAND })
    expect(m.requests).toEqual(GMAIL_SDK_SCOPES)
    expect(m.problem).toMatch(/^reauthCommand scripts\/gmail-sdk-consent\.sh is not ready: the gmail-sdk reads the OAuth client from \/nonexistent\/credentials\.json, which does not exist/)
    expect(m.problem).not.toMatch(/\(2\)/) // it does not offer itself as its own alternative
  })

  it("an unknown command's requests come from a google-auth file's scopes (what its writer asked for), else are unknown", () => {
    const file = parseTokenFile(JSON.stringify({ token: 'a', refresh_token: 'r', client_id: 'c', client_secret: 's', scopes: [G('send')] }))
    expect(consentMethod({ ...base, command: 'true' }, file).requests).toEqual([G('send')])
    expect(consentMethod({ ...base, command: 'true' }).requests).toBeUndefined()
  })
})

describe('missingScopesHint', () => {
  const redo = 'npx zx tasks/run.mjs gmail-reauth --from reauth'

  it('a scope the client asks for: tick every box', () => {
    const h = missingScopesHint([G('labels')], { label: 'the built-in consent', requests: REQUIRED }, redo)
    expect(h.neverRequested).toEqual([])
    expect(h.hint).toBe(`consent again and tick every box on the consent screen (Google lets users untick scopes): ${redo}`)
  })

  it("a scope covered by one the client asks for counts as asked for: the SDK's https://mail.google.com/ covers gmail.labels", () => {
    expect(missingScopesHint([G('labels')], { label: 'sdk', requests: GMAIL_SDK_SCOPES }, redo).neverRequested).toEqual([])
  })

  it('a scope the client never asks for: the client or requiredScopes must change, not the boxes', () => {
    const h = missingScopesHint([G('settings.sharing')], { label: "the gmail-sdk's authorize()", requests: GMAIL_SDK_SCOPES }, redo)
    expect(h.neverRequested).toEqual([G('settings.sharing')])
    expect(h.hint).toMatch(/^the gmail-sdk's authorize\(\) never asks Google for gmail\.settings\.sharing, so no consent with it can grant it: change requiredScopes .*--set reauthMode=builtin asks for exactly requiredScopes/)
    expect(h.hint).not.toMatch(/tick every box/)
  })

  it('an unknown client: tick every box, and check that it asks for the scope', () => {
    expect(missingScopesHint([G('labels')], { label: '"my-tool"' }, redo).hint).toMatch(/tick every box .*\(and check that "my-tool" asks for gmail\.labels\)/)
  })
})
