#!/usr/bin/env bash
# The baseline `npm run bench` measures credflow against: the token sync as a careful operator
# writes it with kubectl and curl. Per namespace: the Secret's key set to the token file's bytes,
# the stale Secrets deleted, the Deployments restarted; then every rollout waited for, and the
# Secret read back and compared byte for byte. test/integration/bench-baseline.test.ts proves it
# does the job, so the comparison is honest.
#
#   bench/kubectl-sync.sh [--mode apply|recreate|skip] --token-file F --token-url URL \
#     --secret NAME --key KEY [--stale NAME]... [--deployment NAME]... [--timeout 90s] NAMESPACE...
#
# --mode apply     kubectl create secret ... --dry-run=client -o yaml | kubectl apply -f - (in place)
# --mode recreate  kubectl delete secret, then kubectl create secret
# --mode skip      like apply, but a namespace whose Secret already holds the file and has no
#                  stale Secret left is skipped (nothing to do: no write, no restart)
# Environment: KUBECTL (default kubectl), KUBECONFIG. Token material stays out of argv: curl
# reads its form from stdin, kubectl reads the file itself.
set -euo pipefail

kubectl=${KUBECTL:-kubectl}
mode=apply timeout=90s token_file='' token_url='' secret='' key=''
stale=() deployments=() namespaces=()
usage() { echo "usage: $0 [--mode apply|recreate|skip] --token-file F --token-url URL --secret NAME --key KEY [--stale NAME]... [--deployment NAME]... [--timeout D] NAMESPACE..." >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --token-file) token_file=$2; shift 2 ;;
    --token-url) token_url=$2; shift 2 ;;
    --secret) secret=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --stale) stale+=("$2"); shift 2 ;;
    --deployment) deployments+=("$2"); shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -*) usage ;;
    *) namespaces+=("$1"); shift ;;
  esac
done
[[ $mode =~ ^(apply|recreate|skip)$ && -n $token_file && -n $token_url && -n $secret && -n $key && ${#namespaces[@]} -gt 0 ]] || usage
[[ -r $token_file ]] || { echo "cannot read $token_file" >&2; exit 2; }

# 1. The refresh token still works: one refresh at the token endpoint (the answer holds an
#    access token, so it goes to a 0600 temp file, never to the terminal).
resp=$(mktemp)
trap 'rm -f "$resp"' EXIT
jq -j '@uri "grant_type=refresh_token&client_id=\(.client_id)&client_secret=\(.client_secret)&refresh_token=\(.refresh_token)"' "$token_file" |
  curl -sS --fail -o "$resp" --data-binary @- "$token_url" || { echo "token refresh failed" >&2; exit 1; }
jq -e '.access_token | length > 0' "$resp" >/dev/null || { echo "token endpoint returned no access token" >&2; exit 1; }

# Done in NAMESPACE: the Secret's key decodes to the file's bytes, and no stale Secret is left.
# One kubectl get of all of them (--ignore-not-found lists only those that exist).
jsonkey=${key//./\\.}
in_sync() {
  local ns=$1 name data found=1
  while IFS=$'\t' read -r name data; do
    if [[ $name == "$secret" ]]; then
      printf '%s' "$data" | base64 -d | cmp -s - "$token_file" && found=0 || return 1
    elif [[ -n $name ]]; then
      return 1 # a stale Secret is still there
    fi
  done < <("$kubectl" -n "$ns" get secret "$secret" ${stale[@]+"${stale[@]}"} --ignore-not-found \
    -o jsonpath="{range .items[*]}{.metadata.name}{\"\t\"}{.data.$jsonkey}{\"\n\"}{end}")
  return $found
}

# 2. Per namespace: write the Secret, delete the stale ones, restart the consumers.
todo=()
for ns in "${namespaces[@]}"; do
  if [[ $mode == skip ]] && in_sync "$ns"; then echo "$ns: up to date"; continue; fi
  todo+=("$ns")
  case $mode in
    recreate)
      "$kubectl" -n "$ns" delete secret "$secret" --ignore-not-found
      "$kubectl" -n "$ns" create secret generic "$secret" --from-file="$key=$token_file" ;;
    *)
      "$kubectl" -n "$ns" create secret generic "$secret" --from-file="$key=$token_file" --dry-run=client -o yaml |
        "$kubectl" apply -f - ;;
  esac
  [[ ${#stale[@]} -eq 0 ]] || "$kubectl" -n "$ns" delete secret "${stale[@]}" --ignore-not-found
  for d in ${deployments[@]+"${deployments[@]}"}; do "$kubectl" -n "$ns" rollout restart "deployment/$d"; done
done

# 3. Wait for every rollout, then read every Secret back.
for ns in ${todo[@]+"${todo[@]}"}; do
  for d in ${deployments[@]+"${deployments[@]}"}; do "$kubectl" -n "$ns" rollout status "deployment/$d" --timeout="$timeout"; done
done
for ns in ${todo[@]+"${todo[@]}"}; do
  in_sync "$ns" || { echo "$ns: Secret $secret does not hold $token_file, or a stale Secret is left" >&2; exit 1; }
  echo "$ns: synced"
done
