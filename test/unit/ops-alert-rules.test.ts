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
  it('gives every alert a severity, a summary and a description naming the runbook command', () => {
    const groups = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Record<string, any>[] }[] }).groups
    const alerts = groups.flatMap((g) => g.rules)
    expect(alerts.map((r) => r.alert)).toEqual(['GmailOAuthTokenSecretStale', 'GmailOAuthTokenSecretAbsent'])
    for (const rule of alerts) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(warning|critical)$/)
      expect(rule.annotations.summary, rule.alert).toBeTruthy()
      expect(rule.annotations.description, rule.alert).toContain('scripts/gmail-reauth.sh')
      expect(rule.annotations.description, rule.alert).toContain('npx zx tasks/run.mjs gmail-reauth')
    }
  })

  it('passes promtool check rules with both alerts', () => {
    const r = runTool('promtool', ['check', 'rules', RULES])
    expect(r.stderr + r.stdout).toContain('SUCCESS: 2 rules found')
    expect(r.status).toBe(0)
  })

  it('is rejected by promtool check rules when an expression does not parse', () => {
    const { rules } = scratchCopy((t) => t.replace('> 6 * 86400', '> 6 * * 86400'))
    const r = runTool('promtool', ['check', 'rules', rules])
    expect(r.status).not.toBe(0)
    expect(r.stderr + r.stdout).toMatch(/parse error|unexpected/)
  })
})

// Each promtool test run replays ~13 days of samples (about 3 s of CPU): run them side by side.
const PROMTOOL_TIMEOUT = 90_000

describe.concurrent('the alerts behave over a token lifetime (promtool test rules)', () => {
  it('stays quiet while fresh, fires past 6 days, resolves after the Secret is recreated, fires when absent', async () => {
    const r = await runToolAsync('promtool', ['test', 'rules', PROMTOOL_TEST])
    expect(r.stdout + r.stderr).toContain('SUCCESS')
    expect(r.status).toBe(0)
  }, PROMTOOL_TIMEOUT)

  // The promtool test must be able to fail: each edit below breaks one promise it checks.
  const mutants: [string, (t: string) => string, RegExp][] = [
    ['a threshold of 7 days (the token would already be dead)', (t) => t.replace('> 6 * 86400', '> 7 * 86400'), /GmailOAuthTokenSecretStale/],
    ['an absent alert that fires during the recreate gap', (t) => t.replace('for: 15m', 'for: 1m'), /GmailOAuthTokenSecretAbsent/],
    ['an age measured on another Secret', (t) => t.replace(/time\(\) - kube_secret_created\{[^}]*\}/, 'time() - kube_secret_created{namespace="basketball-api"}'), /GmailOAuthTokenSecretStale/],
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
