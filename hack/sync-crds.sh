#!/usr/bin/env bash
# hack/sync-crds.sh [--check] — copy the single sources of truth into the Helm chart:
#   crds/*.yaml (the CRDs)                 -> charts/kubemedic/crds/
#   crds/admission-*.yaml (the policies)   -> charts/kubemedic/files/admission/
#   deploy/prometheus/kubemedic-rules.yaml -> charts/kubemedic/files/kubemedic-rules.yaml
# The admission policies are not CRDs: Helm's crds/ would install them verbatim, with the
# default namespace and ServiceAccount. templates/admission-policies.yaml reads them from
# files/admission/ and fills in the release's own names instead.
# With --check nothing is written: it lists every file that differs, is missing or is stale
# in the chart and exits 1 (hack/check-chart.sh and tests/unit/test_chart.py use it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chart="$root/charts/kubemedic"
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

drift=0
sync_file() {  # sync_file SRC DST
  local src="$1" dst="$2"
  if cmp -s "$src" "$dst"; then return; fi
  if $check; then
    echo "drift: ${dst#"$root"/} differs from ${src#"$root"/} (run hack/sync-crds.sh)" >&2
    drift=1
  else
    mkdir -p "$(dirname "$dst")"
    cp "$src" "$dst"
    echo "copied ${src#"$root"/} -> ${dst#"$root"/}"
  fi
}

shopt -s nullglob
for src in "$root"/crds/*.yaml; do
  case "$(basename "$src")" in
    admission-*) sync_file "$src" "$chart/files/admission/$(basename "$src")" ;;
    *) sync_file "$src" "$chart/crds/$(basename "$src")" ;;
  esac
done
# A file removed from crds/ must leave the chart too.
for dst in "$chart"/crds/*.yaml "$chart"/files/admission/*.yaml; do
  if [ ! -e "$root/crds/$(basename "$dst")" ]; then
    if $check; then
      echo "drift: ${dst#"$root"/} has no source in crds/ (run hack/sync-crds.sh)" >&2
      drift=1
    else
      rm "$dst"
      echo "removed ${dst#"$root"/}"
    fi
  fi
done

rules="$root/deploy/prometheus/kubemedic-rules.yaml"
if [ -e "$rules" ]; then
  sync_file "$rules" "$chart/files/kubemedic-rules.yaml"
elif ! grep -q "kubemedic-placeholder" "$chart/files/kubemedic-rules.yaml" 2>/dev/null; then
  echo "drift: deploy/prometheus/kubemedic-rules.yaml is missing but the chart has rules" >&2
  drift=1
fi
exit "$drift"
