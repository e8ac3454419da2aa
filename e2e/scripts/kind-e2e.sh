#!/usr/bin/env bash
# The operator end-to-end scenario on a real cluster (opt-in): what OperatorE2ETest does against
# the mock API server and its local kubelet, here through `helm install` and `kubectl`.
#
#   e2e/scripts/kind-e2e.sh                      # cluster of the current kube context
#   KIND_CLUSTER=kind e2e/scripts/kind-e2e.sh    # also `kind load docker-image` both images first
#
# Needs: kubectl, helm (v3), curl; a cluster (KUBECONFIG or ~/.kube/config) whose nodes can pull
# (or, with KIND_CLUSTER, have been loaded with) the two images:
#   OPERATOR_IMAGE  the operator image      (default ghcr.io/shuttle-project/shuttle-operator:0.1.0)
#   SHUTTLE_IMAGE   the serving-pod image   (default ghcr.io/shuttle-project/shuttle:0.1.0)
# Other settings: NAMESPACE (shuttle-e2e), RELEASE (shuttle), TIMEOUT seconds per wait (600),
# LOCAL_PORT for port-forwards (18000), KEEP=1 leaves the release and namespace in place.
# The tiny CPU example needs about 4 CPUs and 6 GiB free in the cluster at its peak (scale-out).
#
# Steps: helm install the operator → kubectl apply crds/examples/tiny-cpu.yaml (one attention
# pod) → Ready → /v1/completions and /v1/shuttle/generate through the client Service → scale
# attention 1 → 2 → the new pod answers with the same tokens → delete an expert pod → serving
# recovers → delete the MoEDeployment → every child and pod is gone.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAMESPACE=${NAMESPACE:-shuttle-e2e}
RELEASE=${RELEASE:-shuttle}
OPERATOR_IMAGE=${OPERATOR_IMAGE:-ghcr.io/shuttle-project/shuttle-operator:0.1.0}
SHUTTLE_IMAGE=${SHUTTLE_IMAGE:-ghcr.io/shuttle-project/shuttle:0.1.0}
TIMEOUT=${TIMEOUT:-600}
LOCAL_PORT=${LOCAL_PORT:-18000}
NAME=demo
PROMPT='[1, 40, 41, 42, 43, 44]'
MAX_TOKENS=8
FORWARD_PID=""

say() { printf '%s kind-e2e: %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'kind-e2e: error: %s\n' "$*" >&2; exit 1; }
k() { kubectl -n "$NAMESPACE" "$@"; }

for tool in kubectl helm curl; do
  command -v "$tool" >/dev/null || die "$tool is not on the PATH"
done
kubectl config current-context >/dev/null 2>&1 \
  || die "no current kube context: set KUBECONFIG (e.g. 'kind create cluster' writes ~/.kube/config)"
kubectl version --request-timeout=10s >/dev/null || die "the cluster of context '$(kubectl config current-context)' does not answer"
[ -d "$ROOT/helm/shuttle-operator" ] || die "chart $ROOT/helm/shuttle-operator is missing"

stop_forward() {
  if [ -n "$FORWARD_PID" ]; then kill "$FORWARD_PID" 2>/dev/null || true; wait "$FORWARD_PID" 2>/dev/null || true; FORWARD_PID=""; fi
}
cleanup() {
  stop_forward
  if [ "${KEEP:-0}" != 1 ]; then
    say "cleaning up (KEEP=1 keeps the release and namespace)"
    k delete moe "$NAME" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1 || true
    helm uninstall "$RELEASE" -n "$NAMESPACE" >/dev/null 2>&1 || true
    kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Waits until "$@" succeeds, at most TIMEOUT seconds; $1 says what for.
wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { k get moe,sts,pods -o wide >&2 || true; die "not within ${TIMEOUT}s: $what"; }
    sleep 3
  done
}

# Port-forwards $1 (svc/NAME or pod/NAME) to LOCAL_PORT and waits until it answers.
forward() {
  stop_forward
  k port-forward "$1" "$LOCAL_PORT:8000" >/dev/null 2>&1 &
  FORWARD_PID=$!
  wait_for "port-forward to $1" curl -sf "http://127.0.0.1:$LOCAL_PORT/v1/models"
}

# The generated ids of the prompt, greedy, from whatever LOCAL_PORT forwards to.
generate_ids() {
  curl -sf --max-time 120 "http://127.0.0.1:$LOCAL_PORT/v1/shuttle/generate" -H 'Content-Type: application/json' \
    -d "{\"prompts\": [$PROMPT], \"max_tokens\": $MAX_TOKENS, \"temperature\": 0, \"ignore_eos\": true}" \
    | grep -o '"generated_ids":\[[0-9,]*\]'
}

completion_ok() {
  local body
  body=$(curl -sf --max-time 120 "http://127.0.0.1:$LOCAL_PORT/v1/completions" -H 'Content-Type: application/json' \
    -d "{\"prompt\": $PROMPT, \"max_tokens\": $MAX_TOKENS, \"temperature\": 0, \"ignore_eos\": true, \"logprobs\": 0}") || return 1
  grep -q "\"completion_tokens\":$MAX_TOKENS" <<<"$body"
}

ready() { [ "$(k get moe "$NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }

if [ -n "${KIND_CLUSTER:-}" ]; then
  command -v kind >/dev/null || die "KIND_CLUSTER is set but kind is not on the PATH"
  say "loading $OPERATOR_IMAGE and $SHUTTLE_IMAGE into kind cluster $KIND_CLUSTER"
  kind load docker-image "$OPERATOR_IMAGE" "$SHUTTLE_IMAGE" --name "$KIND_CLUSTER"
fi

say "helm install $RELEASE (operator $OPERATOR_IMAGE) into namespace $NAMESPACE"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
helm upgrade --install "$RELEASE" "$ROOT/helm/shuttle-operator" -n "$NAMESPACE" \
  --set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE##*:}" \
  --wait --timeout "${TIMEOUT}s"

say "kubectl apply crds/examples/tiny-cpu.yaml (image $SHUTTLE_IMAGE, 1 attention pod)"
awk -v img="$SHUTTLE_IMAGE" '
  /^  image:/ { print "  image: " img; next }
  /^  attention:/ { inAttention = 1 }
  inAttention && /^    replicas:/ { print "    replicas: 1"; inAttention = 0; next }
  { print }' "$ROOT/crds/examples/tiny-cpu.yaml" | k apply -f -
wait_for "MoEDeployment $NAME Ready" ready
k get moe "$NAME"

say "client Service: /v1/completions and /v1/shuttle/generate"
forward "svc/$NAME"
completion_ok || die "/v1/completions did not answer 200 with $MAX_TOKENS tokens"
REFERENCE=$(generate_ids) || die "/v1/shuttle/generate failed"
say "tokens: $REFERENCE"

say "scale attention 1 -> 2 (live: no pod restarts)"
BEFORE=$(k get sts "$NAME-experts" -o jsonpath='{.spec.template.metadata.annotations.shuttle\.io/plan-sha256}')
STARTED=$(k get pod "$NAME-attention-0" -o jsonpath='{.metadata.uid}')
k patch moe "$NAME" --type merge -p '{"spec":{"attention":{"replicas":2}}}'
two_ready() { ready && [ "$(k get moe "$NAME" -o jsonpath='{.status.attentionReady}')" = 2/2 ]; }
wait_for "2/2 attention pods Ready" two_ready
[ "$(k get sts "$NAME-experts" -o jsonpath='{.spec.template.metadata.annotations.shuttle\.io/plan-sha256}')" = "$BEFORE" ] \
  || die "scaling attention changed the expert pods' template"
[ "$(k get pod "$NAME-attention-0" -o jsonpath='{.metadata.uid}')" = "$STARTED" ] \
  || die "scaling attention restarted $NAME-attention-0"
forward "pod/$NAME-attention-1"
[ "$(generate_ids)" = "$REFERENCE" ] || die "the new attention pod answered other tokens than the first one"
completion_ok || die "the new attention pod's /v1/completions failed"

say "delete pod $NAME-experts-1: it comes back and serving recovers"
UID_BEFORE=$(k get pod "$NAME-experts-1" -o jsonpath='{.metadata.uid}')
k delete pod "$NAME-experts-1" --wait=false
replaced() { local u; u=$(k get pod "$NAME-experts-1" -o jsonpath='{.metadata.uid}') && [ -n "$u" ] && [ "$u" != "$UID_BEFORE" ]; }
wait_for "a new $NAME-experts-1" replaced
forward "svc/$NAME"
same_tokens() { [ "$(generate_ids)" = "$REFERENCE" ]; }
wait_for "serving with the same tokens after the expert pod came back" same_tokens
stop_forward

say "delete the MoEDeployment: every child goes"
k delete moe "$NAME" --wait=true --timeout="${TIMEOUT}s"
nothing_left() { [ -z "$(k get sts,pods,svc,cm,secret,pdb -l "shuttle.io/deployment=$NAME" -o name)" ]; }
wait_for "no child of $NAME left" nothing_left
say "passed"
