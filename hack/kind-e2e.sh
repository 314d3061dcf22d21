#!/usr/bin/env bash
# End-to-end on kind, for people with Docker (our CI has no Docker engine; the control-plane bed covers CI).
# Creates a kind cluster, builds and loads the operator image, applies crds/ and manifests/, creates the sample
# dry-run PowerEvent and waits for Ready with the plan in status. Nothing on the cluster is changed by the event.
#
#   hack/kind-e2e.sh              # cluster "hecate-e2e", deleted at the end
#   KEEP=1 hack/kind-e2e.sh       # keep the cluster for a look around
set -euo pipefail

CLUSTER="${KIND_CLUSTER:-hecate-e2e}"
IMAGE="${IMAGE:-hecate-operator:e2e}"
NS=hecate-system
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

for tool in kind docker kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is not on PATH" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "kind-e2e: no Docker engine answers (docker info failed)" >&2; exit 2; }

cleanup() {
  if [[ "${KEEP:-0}" != 1 ]]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --wait 120s
fi
CTX="kind-$CLUSTER"
k() { kubectl --context "$CTX" "$@"; }

echo "==> Building $IMAGE"
docker build -f images/operator/Dockerfile -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

# NOTE: k3s labels control-plane nodes with "true"; kind with "". The Deployment selects "true".
k label nodes -l node-role.kubernetes.io/control-plane node-role.kubernetes.io/control-plane=true --overwrite

echo "==> Applying crds/ and manifests/"
k apply -f crds/
k wait --for=condition=Established crd/powerevents.power.hecate.dev crd/powerplans.power.hecate.dev --timeout=60s
k apply -f manifests/namespace.yaml -f manifests/rbac.yaml -f examples/atlas-powerplan.yaml
k apply -f manifests/deployment.yaml
k -n "$NS" set image deployment/hecate-operator operator="$IMAGE"
k -n "$NS" rollout status deployment/hecate-operator --timeout=180s

echo "==> Dry-run PowerEvent"
before="$(k get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.spec.unschedulable}{"\n"}{end}')"
k apply -f examples/samples/powerevent-shutdown.yaml
k -n "$NS" wait --for=condition=Ready powerevent/atlas-shutdown --timeout=120s
steps="$(k -n "$NS" get powerevent atlas-shutdown -o jsonpath='{.status.plan.steps[*].id}' | wc -w)"
[[ "$steps" -gt 0 ]] || { echo "kind-e2e: status.plan has no steps" >&2; exit 1; }
after="$(k get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.spec.unschedulable}{"\n"}{end}')"
[[ "$before" == "$after" ]] || { echo "kind-e2e: a dry-run changed node schedulability" >&2; exit 1; }
k -n "$NS" describe powerevent atlas-shutdown | tail -n 15
holder="$(k -n "$NS" get lease hecate-operator -o jsonpath='{.spec.holderIdentity}')"
echo "==> OK: plan with $steps step(s) rendered by leader $holder; nothing changed"
