import { FLAGS } from './args.ts'
import type { Workflow } from './load.ts'
import { paramEnvName } from './params.ts'
import { EXIT_CODE_TABLE } from './exit-codes.ts'
import { wrap } from './render/style.ts'

/** How operators invoke the CLI, in every printed hint. */
export const CMD = 'npx zx tasks/run.mjs'

/** --help: what a newcomer needs on one 80x24 screen and a half; `help <topic>` has the rest. */
export function generalHelp(): string {
  return `credflow: run a credential workflow, a YAML DAG of idempotent, resumable steps

Usage: ${CMD} <workflow> [flags]   run it; asks before any change
       ${CMD} <workflow> --help    its params and nodes
       ${CMD} help [topic]         more help; topics:
         ${Object.keys(TOPICS).join(', ')}

Common flags:
  --dry-run          check and plan only, each change validated by the server
  --status           read-only health: OK until when, and what to run
  --resume [RUN_ID]  continue the last unfinished run, keeping what succeeded
  --from NODE        rerun NODE and all after it (--only NODE: just NODE)
  --set KEY=VALUE    a workflow param (repeatable)
  -n, --namespace NS only the targets in namespace NS
  --context NAME     kubeconfig context (--kubeconfig PATH: another file)
  -y, --yes          apply without asking (cron, CI)
  -o json|yaml|wide  one document on stdout; wide: lines left whole
  --no-color         no colour (NO_COLOR=1 too); -h, --help; --version

Examples:
  # The weekly run on the operator host: shows the whole plan, asks once
  ${CMD} gmail-reauth
  # What would change, checked by the API server; nothing is written
  ${CMD} gmail-reauth --dry-run
  # Continue after a failure or Ctrl-C
  ${CMD} gmail-reauth --resume
  # Am I OK? (exit 0 healthy, 4 consent needed, 5 expiring, 6 drift)
  ${CMD} gmail-reauth --status
  # Past runs, and one run's transcript
  ${CMD} runs gmail-reauth; ${CMD} log gmail-reauth
  # From Forgejo: Actions > gmail-reauth > Run workflow (mode: status,
  # dry-run, apply, resume); the wrapper: scripts/gmail-reauth.sh --help

Exit codes: 0 ok, 1 failed, 2 refused (nothing changed), 3 locked, 4 consent
needed, 5 expiring, 6 drift, 130 interrupted (help exit-codes).
`
}

/** Every flag, with its environment variable: `help flags`. */
function flagsHelp(): string {
  const rows = FLAGS.map((f) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.kind === 'optional' ? ` [${f.arg}]` : f.arg ? ` ${f.arg}` : ''}`
    const text = [...wrap(f.help, 80 - 30), ...(f.env ? [`env ${f.env}`] : [])]
    return [`  ${left.padEnd(27)} ${text[0]}`, ...text.slice(1).map((l) => ' '.repeat(30) + l)].join('\n')
  })
  return `Flags (each also read from the environment variable named):\n${rows.join('\n')}\n`
}

const TOPICS: Record<string, () => string> = {
  flags: flagsHelp,
  'exit-codes': () => `Exit codes (the same for the CLI, --status, the wrapper and the Forgejo job):\n${exitCodeLines()}\n`,
  env: () => `Environment:
  CREDFLOW_WORKFLOW=NAME       the workflow when none is named
  CREDFLOW_WORKFLOWS_DIR=DIR   where workflow files are (default: workflows/ of
                               this checkout; steps load from DIR/../tasks)
  CREDFLOW_SET_<PARAM>=VALUE   a param, like --set (CREDFLOW_SET_TOKENFILE=...)
  CREDFLOW_STATE_DIR=DIR       where runs are recorded (see: help state)
  KUBECONFIG=A:B               kubeconfig files, merged as kubectl does
                               (the first file that sets a value wins)
  NO_COLOR=1, TERM=dumb        no colour; TERM=dumb or a narrow terminal:
                               plain lines instead of the live view
  CI=true                      plain timestamped lines instead of the live view
Every flag has one too: help flags.
`,
  state: () => `Where state lives:
  $CREDFLOW_STATE_DIR, else --state-dir, else $XDG_STATE_HOME/credflow, else
  ~/.local/state/credflow. Below it, per workflow:
    <workflow>/lock                     the run holding the workflow (pid, host)
    <workflow>/runs/<RUN_ID>/state.json       each node's status and outputs
    <workflow>/runs/<RUN_ID>/events.jsonl     every event, a JSON object a line
    <workflow>/runs/<RUN_ID>/transcript.txt   the run as plain text
  All 0700/0600. No token bytes are kept there, except a Secret's backup (0600)
  while update-secret replaces it; it is removed once verify-decode passes.
  Past runs, newest first (like kubectl rollout history), and one in full:
    ${CMD} runs <workflow>
    ${CMD} log <workflow> [RUN_ID]
`,
  cron: () => `Running from cron (or a systemd timer):
  A job has no terminal: it never asks. It needs --yes to change anything, and
  stops with exit 4 and the runbook when a person must consent. For example:
    # every day at 07:00 a health check; Mondays a sync that needs no consent
    0 7 * * *  /opt/credflow/scripts/gmail-reauth.sh --status -o json >>$LOG
    0 8 * * 1  /opt/credflow/scripts/gmail-reauth.sh --yes --non-interactive
  Act on the exit code alone: 0 ok, 4 a person must consent, 5 expiring soon,
  6 out of sync (a --yes run fixes it), 3 another run holds the lock.
  Give the job the ServiceAccount kubeconfig (help kubeconfig), not an admin's.
`,
  kubeconfig: () => `Which cluster, as whom:
  --kubeconfig PATH (or $KUBECONFIG, several files merged like kubectl, or
  ~/.kube/config), --context NAME. The confirmation and the plan name the
  context, server and user before anything changes.
  Least privilege: deploy/rbac.yaml is the Role the workflow needs (Secrets,
  Deployments, pods in the target namespace). For the operator host:
    kubectl apply -f deploy/rbac.yaml
    kubectl -n basketball-api create token credflow --duration=8h
  kubectl create token lasts 1 h unless --duration says otherwise (the API
  server may cap it): make one per session, or see README "Operator host".
`,
}

/** EXIT_CODE_TABLE as aligned lines at 80 columns: `help exit-codes` and the wrapper script's usage print exactly these. */
export function exitCodeLines(): string {
  return EXIT_CODE_TABLE.map(([c, m]) => {
    const text = wrap(m, 80 - 8)
    return [`  ${String(c).padEnd(5)} ${text[0]}`, ...text.slice(1).map((l) => ' '.repeat(8) + l)].join('\n')
  }).join('\n')
}

/** `help <topic>`, or undefined for an unknown topic. */
export function topicHelp(topic: string): string | undefined {
  return TOPICS[topic]?.()
}

export const HELP_TOPICS = Object.keys(TOPICS)

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v)
}

export function workflowHelp(wf: Workflow): string {
  const params = Object.entries(wf.params).map(([name, p]) => {
    const def = p.default === undefined ? (p.required ? ' (required)' : '') : ` (default: ${p.secret ? '<secret>' : show(p.default)})`
    return [...wrap(`  ${name} <${p.enum ? p.enum.join('|') : p.type}>${def}`, 80), ...(p.description ? wrap(p.description, 74).map((l) => `      ${l}`) : []), `      --set ${name}=...  or  ${paramEnvName(name)}=...`].join('\n')
  })
  const nodes = wf.nodes.map((n) => {
    const tags = [n.isFinally && 'finally', n.spec.interactive && 'interactive', n.spec.confirm && 'confirm', n.forEach && `forEach ${n.forEach.param}`, n.spec.when && `when ${n.spec.when}`]
      .filter(Boolean)
      .join(', ')
    const text = wrap(`${n.spec.description ?? n.spec.run}${n.needs.length ? `  (after ${n.needs.join(', ')})` : ''}${tags ? `  [${tags}]` : ''}`, 80 - 19)
    return [`  ${n.id.padEnd(16)} ${text[0]}`, ...text.slice(1).map((l) => ' '.repeat(19) + l)].join('\n')
  })
  return `${wrap(`${wf.name}: ${wf.description.trim()}`, 80).join('\n')}

Usage: ${CMD} ${wf.name} [--dry-run | --status | --resume]
         [--from NODE | --only NODE] [--set KEY=VALUE]... [flags]

Params:
${params.join('\n') || '  (none)'}

Nodes, in order:
${nodes.join('\n')}

Run '${CMD} --help' for every flag.
`
}
