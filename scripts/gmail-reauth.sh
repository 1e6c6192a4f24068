#!/usr/bin/env bash
# Re-authenticate the Gmail OAuth token of westsidebasketball@gmail.com end to end: consent
# (built-in, or the configured reauthCommand), check scopes, write Secret basketball-api/gmail-oauth-token, delete the
# stale Secret, restart basketball-api and verify. It checks the prerequisites, then runs the
# credflow workflow gmail-reauth, which does the work and can be resumed.
#
# Google expires refresh tokens of Testing-mode apps 7 days after consent; the alert
# GmailOAuthTokenSecretStale fires after 6 (salt/pillar/secrets_registry.sls has the policy).
set -euo pipefail

STEPS=(reauth verify-scopes map-key update-secret record-expiry delete-stale restart verify-decode)
# A run id as the engine prints it, e.g. 20261125T014000Z-ab12.
RUN_ID_RE='^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$'

PROG=${0##*/}
# The checkout to run from; CREDFLOW_ROOT overrides it (tests point it at a scratch copy).
ROOT=${CREDFLOW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

if [[ -t 2 && -z "${NO_COLOR:-}" && "${TERM:-}" != dumb ]]; then
  RED=$'\e[31m' YELLOW=$'\e[33m' BOLD=$'\e[1m' RESET=$'\e[0m'
else
  RED='' YELLOW='' BOLD='' RESET=''
fi

usage() {
  cat <<EOF
Usage: $PROG [options] [-- engine-args...]

Re-authenticate the Gmail OAuth token of westsidebasketball@gmail.com and roll it out to
Secret basketball-api/gmail-oauth-token (workflow gmail-reauth).

Options:
  -n, --dry-run          check and plan every step, change nothing (server-side dry run)
      --status           read-only health: exit 0 ok, 4 consent needed, 5 expiring, 6 drift
      --resume [RUN_ID]  continue the last unfinished run (or RUN_ID): keep what succeeded
      --from STEP        rerun STEP and everything after it; --only STEP: just STEP;
                         STEP is one of: ${STEPS[*]}
  -y, --yes              apply without asking (the confirmation shows the whole plan)
      --non-interactive  never prompt: if consent is needed, fail with the runbook
      --context NAME     kube context; --kubeconfig PATH: the kubeconfig file
  -o, --output FORMAT    json, yaml or wide (--json: the same as -o json)
      --no-color         no colour (NO_COLOR=1 does the same)
  -h, --help             show this help

Arguments after -- go to the engine unchanged (e.g. -- --set reauthAfter=3d).
The engine also reads CREDFLOW_DRY_RUN, CREDFLOW_RESUME, CREDFLOW_FROM, CREDFLOW_YES,
CREDFLOW_NON_INTERACTIVE, CREDFLOW_STATE_DIR and CREDFLOW_SET_<PARAM> from the environment.

Runs: node_modules/.bin/zx tasks/run.mjs gmail-reauth [flags] (from the repository root)

Exit codes (the engine's, passed through; this script's own refusals use the same table:
a missing prerequisite or a bad option is 2, an unreachable cluster 1):
$(exit_codes)
EOF
}

# The engine's table (lib/engine/exit-codes.ts) as `help exit-codes` prints it; test/unit/exit-codes.test.ts keeps them equal.
exit_codes() {
  cat <<'EOF'
  0     success, nothing to do, or "n" at the confirmation (nothing changed);
        --status: healthy
  1     a step failed at run time; --status: a check could not look (picture
        incomplete)
  2     usage, input or plan error, refused before any change
  3     another run holds the lock (lock file or cluster Lease)
  4     consent needed (non-interactive run); --status: token dead, revoked or
        absent
  5     --status: token expires within the warning window
  6     --status: out of sync; a run without consent fixes it
  130   interrupted (SIGINT, SIGTERM, SIGHUP); state saved, use --resume
EOF
}

say() { printf '%s\n' "$PROG: $*" >&2; }
warn() { printf '%s\n' "${YELLOW}$PROG: $*${RESET}" >&2; }
# A prerequisite that is missing or wrong: refused before anything ran (exit 2, as the engine's usage errors).
die() { printf '%s\n' "${RED}$PROG: $*${RESET}" >&2; exit 2; }
# The cluster did not answer: a runtime failure that a later try may not have (exit 1).
unreachable() { printf '%s\n' "${RED}$PROG: $*${RESET}" >&2; exit 1; }
bad_usage() {
  printf '%s\n\n' "${RED}$PROG: $*${RESET}" >&2
  usage >&2
  exit 2
}

valid_step() {
  local s
  for s in "${STEPS[@]}"; do [[ "$s" == "$1" ]] && return 0; done
  return 1
}

engine_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -n | --dry-run) engine_args+=(--dry-run) ;;
    -y | --yes) engine_args+=(--yes) ;;
    --non-interactive) engine_args+=(--non-interactive) ;;
    --status | --json | --no-color | --interactive | --force) engine_args+=("$1") ;;
    -o | --output | --context | --kubeconfig)
      [[ $# -gt 1 ]] || bad_usage "$1 needs a value"
      engine_args+=("$1" "$2"); shift ;;
    --output=* | --context=* | --kubeconfig=*) engine_args+=("${1%%=*}" "${1#*=}") ;;
    --resume)
      if [[ $# -gt 1 && "$2" =~ $RUN_ID_RE ]]; then
        engine_args+=(--resume "$2"); shift
      else
        engine_args+=(--resume)
      fi ;;
    --resume=*)
      [[ "${1#*=}" =~ $RUN_ID_RE ]] || bad_usage "--resume ${1#*=}: not a run id (like 20261125T014000Z-ab12)"
      engine_args+=(--resume "${1#*=}") ;;
    --from | --from=* | --only | --only=*)
      flag=${1%%=*}
      if [[ "$1" == "$flag" ]]; then
        [[ $# -gt 1 ]] || bad_usage "$flag needs a step"
        step=$2; shift
      else
        step=${1#*=}
      fi
      valid_step "$step" || bad_usage "$flag $step: no such step (steps: ${STEPS[*]})"
      engine_args+=("$flag" "$step") ;;
    --) shift; engine_args+=("$@"); break ;;
    *) bad_usage "unknown option: $1" ;;
  esac
  shift
done

# The same check for the environment fallback (Forgejo passes inputs this way).
if [[ -n "${CREDFLOW_FROM:-}" ]] && ! valid_step "$CREDFLOW_FROM"; then
  bad_usage "CREDFLOW_FROM=$CREDFLOW_FROM: no such step (steps: ${STEPS[*]})"
fi

# --- prerequisites -------------------------------------------------------------------
[[ -f "$ROOT/tasks/run.mjs" ]] || die "$ROOT is not a credflow checkout (no tasks/run.mjs)"

command -v node >/dev/null || die "node not found: install Node.js 24 LTS (or 22 from 22.19)"
node_version=$(node -p 'process.versions.node' 2>/dev/null) || die "node does not run: $(command -v node)"
# The one support policy, also asked by tasks/run.mjs: lib/node-support.mjs (plain JavaScript).
if ! why=$(node "$ROOT/lib/node-support.mjs" "$node_version" 2>&1); then
  die "$(command -v node): ${why#credflow: }"
fi

missing=()
for dep in zx yaml zod @kubernetes/client-node; do
  [[ -e "$ROOT/node_modules/$dep/package.json" ]] || missing+=("$dep")
done
[[ -x "$ROOT/node_modules/.bin/zx" ]] || missing+=(".bin/zx")
if [[ ${#missing[@]} -gt 0 ]]; then
  die "dependencies are not installed in $ROOT/node_modules (missing: ${missing[*]}): run \`npm ci\` in $ROOT"
fi

ENGINE=("$ROOT/node_modules/.bin/zx" "$ROOT/tasks/run.mjs" gmail-reauth)

# Check the cluster the workflow will use: its kubeconfig and context params (CREDFLOW_SET_*
# from the environment, overridden by -- --set kubeconfig=... / --set context=...).
kube_config=${CREDFLOW_SET_KUBECONFIG:-}
kube_context=${CREDFLOW_SET_CONTEXT:-}
for ((i = 0; i < ${#engine_args[@]}; i++)); do
  a=${engine_args[i]}
  if [[ "$a" == --context || "$a" == --kubeconfig ]] && [[ $((i + 1)) -lt ${#engine_args[@]} ]]; then
    a="${a#--}=${engine_args[i + 1]}"
  elif [[ "$a" == --set && $((i + 1)) -lt ${#engine_args[@]} ]]; then
    a=${engine_args[i + 1]}
  elif [[ "$a" == --set=* ]]; then
    a=${a#--set=}
  else
    continue
  fi
  case "$a" in
    kubeconfig=*) kube_config=${a#kubeconfig=} ;;
    context=*) kube_context=${a#context=} ;;
  esac
done
kube_config=${kube_config/#\~/$HOME}
if [[ -n "$kube_config" && ! -r "$kube_config" ]]; then
  die "kubeconfig $kube_config (the kubeconfig param) does not exist or is not readable"
fi
# Prints the current context, or fails with what is wrong ($KUBECONFIG, then ~/.kube/config).
# shellcheck disable=SC2016 # JavaScript in single quotes: nothing to expand
KUBE_PROBE='
  import * as k8s from "@kubernetes/client-node"
  import { existsSync } from "node:fs"
  import { homedir } from "node:os"
  import { join } from "node:path"
  // Without any file, loadFromDefault invents a context for http://localhost:8080: say so instead.
  const wanted = { file: process.env.PROBE_KUBECONFIG, context: process.env.PROBE_CONTEXT }
  const files = (wanted.file || process.env.KUBECONFIG || join(homedir(), ".kube", "config")).split(":").filter(Boolean)
  const kc = new k8s.KubeConfig()
  if (wanted.file) kc.loadFromFile(wanted.file)
  else if (files.some(existsSync)) kc.loadFromDefault()
  if (wanted.context) {
    if (!kc.getContexts().some((c) => c.name === wanted.context)) {
      console.error(`no kube context "${wanted.context}" (the context param) in ${files.join(":")}`)
      process.exit(2)
    }
    kc.setCurrentContext(wanted.context)
  }
  const context = kc.getCurrentContext()
  if (!context || !kc.getCurrentCluster()) {
    console.error("no current kube context: set KUBECONFIG to the credflow-gmail-reauth kubeconfig")
    process.exit(2)
  }
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no answer within 10s")), 10_000).unref())
  try {
    await Promise.race([kc.makeApiClient(k8s.VersionApi).getCode(), timeout])
    console.log(context)
  } catch (e) {
    console.error(`cannot reach the cluster of kube context "${context}" (${kc.getCurrentCluster().server}): ${e.message.split("\n")[0]}`)
    process.exit(1)
  }'

if command -v kubectl >/dev/null; then
  kubectl=(kubectl ${kube_config:+--kubeconfig "$kube_config"})
  if [[ -n "$kube_context" ]]; then
    known=$("${kubectl[@]}" config get-contexts -o name 2>/dev/null) || known=''
    [[ $'\n'"$known"$'\n' == *$'\n'"$kube_context"$'\n'* ]] ||
      die "no kube context \"$kube_context\" (the context param) in ${kube_config:-${KUBECONFIG:-~/.kube/config}}"
    context=$kube_context
    kubectl+=(--context "$kube_context")
  else
    context=$("${kubectl[@]}" config current-context 2>/dev/null) ||
      die "kubectl has no current context: set KUBECONFIG to the credflow-gmail-reauth kubeconfig or run \`kubectl config use-context NAME\`"
  fi
  # /readyz is readable by every authenticated user (system:public-info-viewer).
  if ! err=$("${kubectl[@]}" --request-timeout=10s get --raw=/readyz 2>&1 >/dev/null); then
    unreachable "cannot reach the cluster of kube context \"$context\": ${err:-no answer}"
  fi
  say "kube context: ${BOLD}$context${RESET}"
else
  # No kubectl: ask GET /version with the client library and kubeconfig rules the engine uses.
  # The probe exits 2 for a context problem (config) and 1 for a cluster that does not answer.
  context=$(cd "$ROOT" && PROBE_KUBECONFIG=$kube_config PROBE_CONTEXT=$kube_context node --input-type=module -e "$KUBE_PROBE" 2>&1) || {
    rc=$?
    if [[ $rc -eq 2 ]]; then die "$context"; else unreachable "$context"; fi
  }
  say "kube context: ${BOLD}$context${RESET} (checked without kubectl)"
fi

cd "$ROOT"
say "running: node_modules/.bin/zx tasks/run.mjs gmail-reauth ${engine_args[*]}"
exec "${ENGINE[@]}" "${engine_args[@]}"
