# Secrets registry: one entry per credential we run, grouped by section.
#
# Single source of truth for credflow: `lib/registry.ts` loads and validates this file
# (zod schema; `npx vitest run test/unit/ops-registry.test.ts` checks it), the engine's
# `--status` prints the rotation policy from here, and the deadline credflow records for the
# expiry alerts (CredentialExpiry status.expiresAt, read by
# terraform/modules/monitoring/rules/gmail-oauth-expiry.rules.yaml) is the consent plus
# rotation_days whenever Google does not say it exactly (tested).
#
# Salt pillar: plain YAML, no Jinja, so that any YAML parser reads it the way Salt does.
# Keep values non-secret: names, paths and commands only, never token material.
secrets_registry:
  platform:
    gmail_oauth_token:
      description: >-
        OAuth refresh token that basketball-api uses to send and read mail as
        westsidebasketball@gmail.com.
      provider: Google OAuth (westsidebasketball@gmail.com)
      # Minted by Google's consent screen, not by us: a person has to click through it.
      origin: external
      # Google expires refresh tokens of Testing-mode OAuth apps 7 days after consent.
      rotation_days: 7
      # testing: the 7-day limit applies. Published "In production" (README: "In production"),
      # set in_production: no deadline, so --status shows none and the expiry alerts stay quiet.
      publishing_status: testing
      kubernetes:
        namespace: basketball-api
        secret: gmail-oauth-token
        key: gmail-westsidebasketball.json
        consumers:
          - deployment/basketball-api
        # Replaced by gmail-oauth-token; the workflow's delete-stale step removes it.
        superseded:
          - gmail-oauth-westsidebasketball
        # Out of scope: PVC pal-e-mail/gmail-oauth still holds an older copy of this token
        # for pal-e-mail; its migration to this Secret is separate work.
      local:
        # Spelled "basktball" on purpose: that is the file's real name; never rename it.
        path: ~/secrets/google-oauth/gmail-westsidebasktball.json
      rotate:
        script: scripts/gmail-reauth.sh
        command: npx zx tasks/run.mjs gmail-reauth
        workflow: gmail-reauth
        forgejo: .forgejo/workflows/gmail-reauth.yaml
      monitoring:
        rules: terraform/modules/monitoring/rules/gmail-oauth-expiry.rules.yaml
        alerts:
          - GmailOAuthTokenExpiresSoon
          - GmailOAuthTokenExpired
          - GmailOAuthTokenExpiryUnknown
          - GmailOAuthTokenSecretAbsent
