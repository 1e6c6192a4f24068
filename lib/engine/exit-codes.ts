// The one exit-code table of the CLI, `--status` and `scripts/gmail-reauth.sh` (which passes
// every code through). `--help` and the README print EXIT_CODE_TABLE; a test keeps them equal.
// Codes never collide: a scheduler (cron, Forgejo, a Nagios-style check) can act on each alone.
export const EXIT = {
  /** run succeeded or had nothing to do; --status healthy; "n" at the confirmation (nothing changed) */
  ok: 0,
  /** a node failed at run time; --status could not look (cluster unreachable, Forbidden) */
  failed: 1,
  /** usage, config, input or plan refused before any change (nothing was written) */
  usage: 2,
  /** another run holds the lock (this host's lock file or the cluster's Lease) */
  locked: 3,
  /** a person is needed: a non-interactive run reached consent; --status: token dead, revoked or absent */
  needsOperator: 4,
  /** --status: works now, but dies within the warning window (re-consent soon) */
  expiringSoon: 5,
  /** --status: out of sync (Secret absent or differs, consumers not restarted): a run fixes it without consent */
  drift: 6,
  /** interrupted by SIGINT, SIGTERM or SIGHUP: state saved, continue with --resume */
  interrupted: 130,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** [code, meaning] rows, in the order --help and the README show them. */
export const EXIT_CODE_TABLE: ReadonlyArray<readonly [ExitCode, string]> = [
  [EXIT.ok, 'success, nothing to do, or "n" at the confirmation (nothing changed); --status: healthy'],
  [EXIT.failed, 'a step failed at run time; --status: a check could not look (picture incomplete)'],
  [EXIT.usage, 'usage, input or plan error, refused before any change'],
  [EXIT.locked, 'another run holds the lock (lock file or cluster Lease)'],
  [EXIT.needsOperator, 'consent needed (non-interactive run); --status: token dead, revoked or absent'],
  [EXIT.expiringSoon, '--status: token expires within the warning window'],
  [EXIT.drift, '--status: out of sync; a run without consent fixes it'],
  [EXIT.interrupted, 'interrupted (SIGINT, SIGTERM, SIGHUP); state saved, use --resume'],
]
