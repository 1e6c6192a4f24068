import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { OpsError } from '../../lib/errors.ts'
import { findEntry, loadSecretsRegistry, RegistryEntrySchema, type RegistryEntry } from '../../lib/registry.ts'
import { REPO_ROOT } from '../ops/tools.ts'
import { DAY_MS, WARN_BEFORE_MS, deadlineOf } from '../../lib/expiry.ts'

const registry = loadSecretsRegistry()
const source = readFileSync(registry.file, 'utf8')

interface Rule {
  alert?: string
  expr: string
}
function alertRules(entry: RegistryEntry): Rule[] {
  const file = parse(readFileSync(join(REPO_ROOT, entry.monitoring!.rules), 'utf8')) as { groups: { rules: Rule[] }[] }
  return file.groups.flatMap((g) => g.rules).filter((r) => r.alert)
}

/** `credflow_credential_expiration_timestamp_seconds{...} < time() + 86400 > time()` -> the selector and the window in seconds. */
function warningWindow(expr: string): { selector: string; seconds: number } | undefined {
  const m = /^credflow_credential_expiration_timestamp_seconds\{([^}]*)\}\s*<\s*time\(\)\s*\+\s*(\d+)\s*>\s*time\(\)$/.exec(expr.trim())
  return m ? { selector: m[1], seconds: Number(m[2]) } : undefined
}

function brokenRegistry(edit: (text: string) => string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'credflow-registry-')), 'secrets_registry.sls')
  const edited = edit(source)
  expect(edited).not.toBe(source) // the edit must have matched something
  writeFileSync(file, edited)
  return file
}

describe('the secrets registry loads and every entry validates', () => {
  it('has entries, each passing the entry schema on its own', () => {
    expect(registry.entries.length).toBeGreaterThan(0)
    for (const entry of registry.entries) {
      const { id, section, name, ...spec } = entry
      expect(id).toBe(`${section}.${name}`)
      expect(() => RegistryEntrySchema.parse(spec), id).not.toThrow()
    }
  })

  it('describes the Gmail OAuth token: 7-day external Google token, where it lives, how it rotates', () => {
    const entry = findEntry('platform.gmail_oauth_token', registry)
    expect(entry).toMatchObject({
      section: 'platform',
      rotation_days: 7,
      origin: 'external',
      provider: 'Google OAuth (westsidebasketball@gmail.com)',
      kubernetes: {
        namespace: 'basketball-api',
        secret: 'gmail-oauth-token',
        key: 'gmail-westsidebasketball.json',
        consumers: ['deployment/basketball-api'],
        superseded: ['gmail-oauth-westsidebasketball'],
      },
      // The misspelling is the real file name.
      local: { path: '~/secrets/google-oauth/gmail-westsidebasktball.json' },
      rotate: { script: 'scripts/gmail-reauth.sh', command: 'npx zx tasks/run.mjs gmail-reauth', workflow: 'gmail-reauth' },
    })
    expect(findEntry('gmail_oauth_token', registry)).toBe(entry)
  })

  it('points only at files that exist in the repository', () => {
    for (const entry of registry.entries) {
      const files = [entry.rotate.script, entry.rotate.forgejo, entry.monitoring?.rules].filter((f): f is string => !!f)
      for (const f of files) expect(existsSync(join(REPO_ROOT, f)), `${entry.id}: ${f}`).toBe(true)
    }
  })

  it('names only alerts that its rule file defines', () => {
    for (const entry of registry.entries.filter((e) => e.monitoring)) {
      const defined = alertRules(entry).map((r) => r.alert)
      expect(defined, entry.id).toEqual(expect.arrayContaining(entry.monitoring!.alerts))
    }
  })
})

describe('the gmail-reauth workflow acts on what the registry says', () => {
  // The registry is the single source of truth: the workflow's defaults must be its entry, or
  // a rename in one place would sync the token to a Secret nobody watches.
  const entry = findEntry('platform.gmail_oauth_token', registry)
  const workflow = parse(readFileSync(join(REPO_ROOT, 'workflows', `${entry.rotate.workflow}.yaml`), 'utf8')) as {
    name: string
    params: Record<string, { default?: unknown }>
  }
  const defaults = Object.fromEntries(Object.entries(workflow.params).map(([k, p]) => [k, p.default]))

  it('is the workflow the entry names', () => {
    expect(workflow.name).toBe(entry.rotate.workflow)
    expect(entry.rotate.command).toBe(`npx zx tasks/run.mjs ${workflow.name}`)
  })

  it('targets exactly the Secret, key, superseded Secrets and consumers of the entry', () => {
    const k = entry.kubernetes!
    expect(defaults.targets).toEqual([
      {
        namespace: k.namespace,
        secret: k.secret,
        key: k.key,
        staleSecrets: k.superseded,
        deployments: k.consumers.map((c) => c.replace(/^deployment\//, '')),
      },
    ])
    expect(k.consumers.every((c) => c.startsWith('deployment/'))).toBe(true)
  })

  it('reads the local file and the account the entry names', () => {
    expect(defaults.tokenFile).toBe(entry.local!.path)
    expect(entry.provider).toBe(`Google OAuth (${defaults.account})`)
  })

  it('re-consents before the alert would fire (reauthAfter < rotation_days - 1)', () => {
    const m = /^(\d+)d$/.exec(String(defaults.reauthAfter))
    expect(m, `reauthAfter ${defaults.reauthAfter}`).not.toBeNull()
    expect(Number(m![1])).toBeLessThan(entry.rotation_days - 1)
  })
})

describe('the expiry warning fires one day before the deadline the registry sets', () => {
  it('warns WARN_BEFORE_MS before the deadline, on the credential the registry names, which is consent + rotation_days', () => {
    const checked: string[] = []
    for (const entry of registry.entries.filter((e) => e.monitoring && e.kubernetes)) {
      for (const rule of alertRules(entry).filter((r) => entry.monitoring!.alerts.includes(r.alert!))) {
        const w = warningWindow(rule.expr)
        if (!w) continue // the expired and absent() rules
        expect(w.seconds * 1000, `${entry.id} ${rule.alert}`).toBe(WARN_BEFORE_MS)
        expect(w.selector.replace(/\s/g, '')).toBe(`credential="${entry.id}"`)
        // The deadline the tool records when Google does not say it: a warning at rotation_days - 1.
        const consent = { at: new Date(0), source: 'estimate' as const, from: 'test' }
        expect(deadlineOf(consent, entry.rotation_days * DAY_MS)!.getTime() - w.seconds * 1000).toBe((entry.rotation_days - 1) * DAY_MS)
        checked.push(rule.alert!)
      }
    }
    expect(checked).toEqual(['GmailOAuthTokenExpiresSoon'])
  })

  it("no expression reads kube_secret_created: the Secret's age is not the consent's", () => {
    for (const entry of registry.entries.filter((e) => e.monitoring)) {
      for (const rule of alertRules(entry)) expect(rule.expr, `${entry.id} ${rule.alert}`).not.toMatch(/kube_secret_created/)
    }
  })

  it('reads the window arithmetic correctly', () => {
    expect(warningWindow('credflow_credential_expiration_timestamp_seconds{a="b"} < time() + 86400 > time()')).toEqual({ selector: 'a="b"', seconds: 86_400 })
    expect(warningWindow('absent(credflow_credential_consent_timestamp_seconds{a="b"})')).toBeUndefined()
  })
})

describe('a broken registry entry is rejected with file, line and path', () => {
  const cases: [string, (t: string) => string, RegExp][] = [
    ['a non-numeric rotation_days', (t) => t.replace('rotation_days: 7', 'rotation_days: seven'),
      /secrets_registry\.sls:\d+:\d+: secrets_registry\.platform\.gmail_oauth_token\.rotation_days: .*expected number/],
    ['a zero rotation_days', (t) => t.replace('rotation_days: 7', 'rotation_days: 0'),
      /:\d+:\d+: secrets_registry\.platform\.gmail_oauth_token\.rotation_days: .*>0/],
    ['an unknown origin', (t) => t.replace('origin: external', 'origin: outsourced'),
      /secrets_registry\.platform\.gmail_oauth_token\.origin: .*"external"\|"generated"/],
    ['a missing provider', (t) => t.replace(/^ {6}provider: .*\n/m, ''),
      /secrets_registry\.platform\.gmail_oauth_token\.provider: .*expected string, received undefined/],
    ['a misspelled key', (t) => t.replace('rotation_days:', 'rotation_day:'),
      /secrets_registry\.platform\.gmail_oauth_token: Unrecognized key: "rotation_day"/],
    ['a Secret name Kubernetes would refuse', (t) => t.replace('secret: gmail-oauth-token', 'secret: Gmail_OAuth'),
      /gmail_oauth_token\.kubernetes\.secret: must be a lowercase DNS-1123 name/],
    ['broken YAML', (t) => t.replace('  platform:\n', '  platform:\n   - oops\n'), /secrets_registry\.sls:\d+:\d+: invalid YAML/],
  ]
  for (const [what, edit, message] of cases) {
    it(`reports ${what}`, () => {
      const file = brokenRegistry(edit)
      let error: unknown
      try {
        loadSecretsRegistry(file)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(OpsError)
      expect((error as OpsError).message).toMatch(message)
      expect((error as OpsError).message).toContain(file)
      expect((error as OpsError).hint).toMatch(/salt\/pillar\/secrets_registry\.sls/)
    })
  }

  it('points the line at the offending key', () => {
    const file = brokenRegistry((t) => t.replace('rotation_days: 7', 'rotation_days: seven'))
    const line = source.split('\n').findIndex((l) => l.includes('rotation_days: 7')) + 1
    expect(() => loadSecretsRegistry(file)).toThrow(new RegExp(`secrets_registry\\.sls:${line}:7: `))
  })

  it('names known entries when asked for one that does not exist', () => {
    expect(() => findEntry('gmail_oauth', registry)).toThrow(/no entry "gmail_oauth" .*known: platform\.gmail_oauth_token/)
  })
})
