import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { findEntry } from '../../lib/registry.ts'
import { REPO_ROOT, runTool, runToolAsync } from '../ops/tools.ts'

const RULES = join(REPO_ROOT, findEntry('platform.gmail_oauth_token').monitoring!.rules)
const PROMTOOL_TEST = join(REPO_ROOT, 'test/ops/gmail-oauth-expiry.promtool-test.yaml')

/** Copies the rule file (edited) and the promtool test next to each other in a temp dir. */
function scratchCopy(editRules: (text: string) => string): { rules: string; test: string } {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-rules-'))
  const original = readFileSync(RULES, 'utf8')
  const edited = editRules(original)
  expect(edited).not.toBe(original) // the edit must have matched something
  const rules = join(dir, 'rules.yaml')
  writeFileSync(rules, edited)
  const test = join(dir, 'test.yaml')
  writeFileSync(test, readFileSync(PROMTOOL_TEST, 'utf8').replace(/^rule_files:\n\s+- .*$/m, 'rule_files:\n  - rules.yaml'))
  return { rules, test }
}

describe('the gmail-oauth-expiry rule file is valid Prometheus', () => {
  const alerts = () => (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Record<string, any>[] }[] }).groups.flatMap((g) => g.rules)

  it('gives every alert a severity, a summary, a runbook_url that is a README #section, and a description naming the command', () => {
    expect(alerts().map((r) => r.alert)).toEqual(['GmailOAuthTokenExpiresSoon', 'GmailOAuthTokenExpired', 'GmailOAuthTokenExpiryUnknown', 'GmailOAuthTokenSecretAbsent'])
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
    // GitHub/Forgejo anchors: the heading lower-cased, punctuation dropped, spaces as dashes.
    const anchors = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1].toLowerCase().replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-')))
    for (const rule of alerts()) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(warning|critical)$/)
      expect(rule.annotations.summary, rule.alert).toBeTruthy()
      expect(rule.annotations.description, rule.alert).toContain('scripts/gmail-reauth.sh')
      // Only the section: the README's URL is the deployer's (the module's runbook_base_url, kustomization.yaml's marked line).
      const anchor = /^#([-a-z0-9]+)$/.exec(rule.annotations.runbook_url)?.[1]
      expect(anchor, `${rule.alert} runbook_url ${rule.annotations.runbook_url}`).toBeDefined()
      expect(anchors.has(anchor!), `${rule.alert}: README has no heading #${anchor}`).toBe(true)
    }
  })

  it('links each alert to a README section that names it (the page on call lands where the alert is explained)', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
    const slug = (heading: string) => heading.toLowerCase().replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-')
    // Each section: from its heading to the next heading of the same or a higher level.
    const headings = [...readme.matchAll(/^(#{2,4}) (.+)$/gm)]
    const section = (anchor: string) => {
      const i = headings.findIndex((h) => slug(h[2]) === anchor)
      if (i < 0) return undefined
      const level = headings[i][1].length
      const next = headings.slice(i + 1).find((h) => h[1].length <= level)
      return readme.slice(headings[i].index, next?.index)
    }
    for (const rule of alerts()) {
      const anchor = /^#([-a-z0-9]+)$/.exec(rule.annotations.runbook_url)![1]
      expect(section(anchor), `README #${anchor} (${rule.alert}'s runbook_url)`).toContain(rule.alert)
    }
  })

  it('names the deadline in the summary of the expiry alerts (their value is the deadline)', () => {
    for (const rule of alerts().filter((r) => /Expires|Expired/.test(r.alert))) expect(rule.annotations.summary).toContain('{{ $value | humanizeTimestamp }}')
  })

  it('never measures the expiry with kube_secret_created (the Secret\'s age is not the consent\'s)', () => {
    for (const rule of alerts()) expect(rule.expr, rule.alert).not.toContain('kube_secret_created')
  })

  it('passes promtool check rules with all four alerts', () => {
    const r = runTool('promtool', ['check', 'rules', RULES])
    expect(r.stderr + r.stdout).toContain('SUCCESS: 4 rules found')
    expect(r.status).toBe(0)
  })

  it('is rejected by promtool check rules when an expression does not parse', () => {
    const { rules } = scratchCopy((t) => t.replace('< time() + 86400', '< time() + * 86400'))
    const r = runTool('promtool', ['check', 'rules', rules])
    expect(r.status).not.toBe(0)
    expect(r.stderr + r.stdout).toMatch(/parse error|unexpected/)
  })
})

// Each promtool test run replays ~2 days of samples: run them side by side.
const PROMTOOL_TIMEOUT = 90_000

describe.concurrent('the alerts behave over a token lifetime (promtool test rules)', () => {
  it('warns 10 minutes into the last day, resolves at the next evaluation after a re-auth, goes critical at the deadline and when absent', async () => {
    const r = await runToolAsync('promtool', ['test', 'rules', PROMTOOL_TEST])
    expect(r.stdout + r.stderr).toContain('SUCCESS')
    expect(r.status).toBe(0)
  }, PROMTOOL_TIMEOUT)

  // The promtool test must be able to fail: each edit below breaks one promise it checks.
  const mutants: [string, (t: string) => string, RegExp][] = [
    ['a warning two days ahead (a week of warnings)', (t) => t.replace('< time() + 86400', '< time() + 2 * 86400'), /GmailOAuthTokenExpiresSoon/],
    ['a warning that waits an hour', (t) => t.replace('for: 10m', 'for: 1h'), /GmailOAuthTokenExpiresSoon/],
    ['an absent alert that fires during a short gap', (t) => t.replace('for: 15m', 'for: 1m'), /GmailOAuthTokenExpiryUnknown/],
    ['the age of the Secret instead of the consent (kube_secret_created)', (t) => t.replace(/expr: credflow_credential_expiration_timestamp_seconds\{[^}]*\} < time\(\) \+ 86400 > time\(\)/, 'expr: time() - kube_secret_created{namespace="basketball-api",secret="gmail-oauth-token"} > 6 * 86400'), /GmailOAuthTokenExpiresSoon/],
  ]
  for (const [what, edit, alert] of mutants) {
    it(`fails for ${what}`, async () => {
      const { test } = scratchCopy(edit)
      const r = await runToolAsync('promtool', ['test', 'rules', test])
      expect(r.status).not.toBe(0)
      expect(r.stdout + r.stderr).toMatch(alert)
    }, PROMTOOL_TIMEOUT)
  }

  it('runs the unedited copy green (so the failures above come from the edits)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credflow-rules-'))
    copyFileSync(RULES, join(dir, 'rules.yaml'))
    writeFileSync(join(dir, 'test.yaml'), readFileSync(PROMTOOL_TEST, 'utf8').replace(/^rule_files:\n\s+- .*$/m, 'rule_files:\n  - rules.yaml'))
    expect((await runToolAsync('promtool', ['test', 'rules', join(dir, 'test.yaml')])).status).toBe(0)
  }, PROMTOOL_TIMEOUT)
})
