#!/usr/bin/env bash
# hack/check-chart.sh — `make chart-check`: the chart's copies of crds/ and the alert rules
# have not drifted (hack/sync-crds.sh --check), and `helm lint --strict` and `helm template`
# pass with the default values and with every charts/kubemedic/ci/*-values.yaml.
# helm comes from hack/build-tools.sh (override with HELM=/path/to/helm).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chart="$root/charts/kubemedic"
kube_version="${KUBE_VERSION:-v1.34.4}"
helm="${HELM:-$("$root/hack/build-tools.sh" --print-dir)/helm}"
if [ ! -x "$helm" ]; then
  echo "error: no helm at $helm; run hack/build-tools.sh (or set HELM)" >&2
  exit 1
fi

"$root/hack/sync-crds.sh" --check
echo "ok: chart CRDs and alert rules match their sources"

# NB: helm built without version ldflags assumes Kubernetes v1.20 unless told otherwise.
check() {  # check LABEL [helm values args...]
  local label="$1"; shift
  "$helm" lint --strict --kube-version "$kube_version" "$chart" "$@" >/dev/null \
    || { "$helm" lint --strict --kube-version "$kube_version" "$chart" "$@"; exit 1; }
  "$helm" template kubemedic "$chart" --namespace kubemedic --kube-version "$kube_version" \
    "$@" >/dev/null
  echo "ok: lint + template: $label"
}
check "default values"
for values in "$chart"/ci/*-values.yaml; do
  check "ci/$(basename "$values")" --values "$values"
done
