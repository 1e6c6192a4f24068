/**
 * The crash and concurrency matrix of gmail-reauth: the cases test/integration/crash-matrix.test.ts
 * runs, and the section of docs/reliability.md they are rendered to (the test fails when the
 * document and this table differ). Crash points are lib/crash-point.ts names: the production
 * code SIGKILLs itself exactly there when CREDFLOW_TEST_CRASH_AT names the point.
 */

export interface CrashPoint {
  /** CREDFLOW_TEST_CRASH_AT value. */
  point: string
  where: string
  /** What a fresh run (no --resume) does after this crash, when it is not simply "completes". */
  fresh?: 'refuses'
}

export const CRASH_POINTS: readonly CrashPoint[] = [
  { point: 'after:reauth', where: 'step boundary: reauth recorded' },
  { point: 'after:verify-scopes', where: 'step boundary: verify-scopes recorded' },
  { point: 'after:map-key', where: 'step boundary: map-key recorded' },
  { point: 'write:state.json#12', where: 'inside a state write (temp written, not yet renamed)' },
  { point: 'write:backup-secret-basketball-api-gmail-oauth-token.json', where: 'inside the backup write (the old token in a temp file)' },
  { point: 'update-secret:deleted', where: 'inside update-secret, between the DELETE and the CREATE (Secret gone)', fresh: 'refuses' },
  { point: 'after:update-secret[basketball-api]', where: 'step boundary: update-secret recorded' },
  { point: 'after:delete-stale[basketball-api]', where: 'step boundary: delete-stale recorded (restart may be mid-rollout)' },
  { point: 'restart:patched', where: 'inside restart, after the patch and before it is recorded' },
  { point: 'after:restart[basketball-api]', where: 'step boundary: restart recorded' },
  { point: 'after:verify-decode[basketball-api]', where: 'step boundary: verify-decode recorded, before the run is closed' },
]

export const RECOVERIES = ['resume', 'fresh'] as const
export type Recovery = (typeof RECOVERIES)[number]

export const OUTCOME = {
  completes: 'exit 0; newest grant in the Secret under its key, stale Secret gone, exactly one rollout, no backup or temp left, no token bytes written',
  refuses: 'exit 1 naming the crashed run that holds the backup (no bare Secret is created); `--resume <that run>` then completes as above',
} as const

export interface ConcurrencyCase {
  name: string
  expected: string
}

export const CONCURRENCY: readonly ConcurrencyCase[] = [
  { name: 'two hosts, two state dirs, same grant, at once', expected: 'the second exits 3 naming the first (host, pid, run, since when, front door) and writes no state; rerun after it: nothing to do, one rollout in all' },
  { name: 'two hosts, different grants, the newer first', expected: 'the second exits 3; rerun after it, its older grant is refused (exit 1) naming the host that wrote the newer one and when; the Secret keeps the newer grant, one rollout' },
  { name: 'a newer grant from the second host', expected: 'replaces the Secret (exit 0), one rollout' },
  { name: 'the older grant again, with --allow-older-grant', expected: 'replaces the Secret as told (exit 0), says so, one rollout' },
  { name: 'a consent that waits longer than the Lease duration (leaseDuration 3s)', expected: 'the Lease is renewed throughout (same holder, renewTime moves on) and a second host exits 3 meanwhile; SIGTERM: exit 130, nothing changed, the Lease released' },
  { name: 'a host whose clock is 5 min ahead (libfaketime)', expected: 'exit 0 and a warning naming the skew; one rollout' },
  { name: 'then a host with a correct clock, new grant', expected: 'restarts although the ahead host\'s restartedAt looks newer (decided from uids and ReplicaSet creationTimestamp): exit 0, one rollout' },
  { name: 'a host 5 min behind consents in the run, seconds after the last grant was written', expected: 'its new grant replaces the Secret (not refused as older): exit 0, a warning naming the skew, the consent time recorded on the apiserver\'s clock, one rollout' },
  { name: 'a host 5 min behind consents and is killed after reauth; NTP corrects its clock; --resume', expected: 'its grant still replaces the one written before it (its consent time was recorded on the apiserver\'s clock): exit 0, one rollout' },
  { name: 'a host 5 min behind, killed right after its restart patch, then --resume', expected: 'resumes the run that crashed last (runs are ordered by creation, not by this host\'s clock) and waits instead of restarting again: exit 0, one rollout' },
  { name: 'a host 5 min ahead consents in the run; then a correct host with a grant consented after it', expected: 'both replace the Secret in turn (exit 0), one rollout each; the ahead host\'s consent time is on the apiserver\'s clock' },
  { name: 'a consent killed inside the token file\'s write (the new token only in its temp), then a fresh run', expected: 'the token file is the old one, whole; the run keeps the old grant (recent and working: no consent asked), removes the temp holding the lost consent\'s token, changes nothing in the cluster: exit 0, no rollout' },
  { name: 'the same, then --resume --interactive', expected: 'the crashed run (it recorded reauthAfter=1ms) asks for the consent again and completes: newest grant in the Secret, the temp removed, exit 0, one rollout' },
]

export const MATRIX_BEGIN = '<!-- crash-matrix:begin (generated from test/e2e/crash-matrix.ts; checked by test/integration/crash-matrix.test.ts) -->'
export const MATRIX_END = '<!-- crash-matrix:end -->'

export function renderMatrix(): string {
  const rows = CRASH_POINTS.flatMap((c) =>
    RECOVERIES.map((r) => `| \`${c.point}\` | ${c.where} | ${r === 'resume' ? '`--resume`' : 'a fresh run'} | ${r === 'fresh' && c.fresh ? OUTCOME.refuses : OUTCOME.completes} |`),
  )
  const conc = CONCURRENCY.map((c, i) => `| ${i + 1} | ${c.name} | ${c.expected} |`)
  return [
    MATRIX_BEGIN,
    `SIGKILL at ${CRASH_POINTS.length} points x ${RECOVERIES.length} recoveries = ${CRASH_POINTS.length * RECOVERIES.length} cases, each starting from a new consent (a new grant), against the real test plane:`,
    '',
    '| crash point (`CREDFLOW_TEST_CRASH_AT`) | where | then | outcome |',
    '|---|---|---|---|',
    ...rows,
    '',
    `Concurrency, clocks and a killed consent (${CONCURRENCY.length} cases, in order, each host with its own state directory and CREDFLOW_TEST_HOSTNAME):`,
    '',
    '| # | case | outcome |',
    '|---|---|---|',
    ...conc,
    MATRIX_END,
  ].join('\n')
}
