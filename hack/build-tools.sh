#!/usr/bin/env bash
# Builds the local control plane and its companions from the Go module proxy only:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes)
#   etcd (the version k8s.io/kubernetes requires), kwok, helm.
#
# Binaries land in a cache keyed by version, outside the work tree so a fresh clone
# (CI) on the same machine reuses them:
#   ${KUBEMEDIC_CACHE_DIR:-$HOME/.cache/kubemedic}/bin/<k8s version>/
# A binary already present (and answering --version) is not rebuilt.
#
# Usage: hack/build-tools.sh [--print-dir]
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"

root="$(cd "$(dirname "$0")/.." && pwd)"
tools_dir="$root/hack/tools"
cache_dir="${KUBEMEDIC_CACHE_DIR:-$HOME/.cache/kubemedic}"
bin_dir="$cache_dir/bin/$KUBE_VERSION"

if [ "${1:-}" = "--print-dir" ]; then echo "$bin_dir"; exit 0; fi

# NB: the module pins the Kubernetes version; refuse to build a mismatch silently.
if ! grep -q "k8s.io/kubernetes $KUBE_VERSION" "$tools_dir/go.mod"; then
  echo "error: hack/tools/go.mod does not pin k8s.io/kubernetes $KUBE_VERSION;" \
       "run hack/tools/update-kubernetes.sh $KUBE_VERSION first" >&2
  exit 2
fi

mkdir -p "$bin_dir"
start_all=$SECONDS
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=readonly"
minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

step() { printf '[build-tools %4ds] %s\n' "$((SECONDS - start_all))" "$*"; }

have() { [ -x "$bin_dir/$1" ] && "$bin_dir/$1" "${@:2}" >/dev/null 2>&1; }

build_kube() {
  local name="$1" pkg="$2" t0=$SECONDS
  local check=(--version); [ "$name" = kubectl ] && check=(version --client)
  if have "$name" "${check[@]}"; then step "$name: cached"; return; fi
  step "$name: building $pkg@$KUBE_VERSION (cold builds take minutes on 2 cores)"
  (cd "$tools_dir" && go build -tags selinux,notest -ldflags "$ldflags" -o "$bin_dir/$name.tmp" "$pkg")
  mv "$bin_dir/$name.tmp" "$bin_dir/$name"
  step "$name: built in $((SECONDS - t0))s"
}

build_install() {
  local name="$1" pkg="$2" version="$3" t0=$SECONDS
  shift 3
  if have "$name" "$@"; then step "$name: cached"; return; fi
  step "$name: building $pkg@$version"
  local gobin; gobin="$(mktemp -d)"
  GOBIN="$gobin" GOFLAGS="-trimpath" go install -ldflags "${EXTRA_LDFLAGS:--s -w}" "$pkg@$version"
  mv "$gobin/$(basename "$pkg")" "$bin_dir/$name"
  rmdir "$gobin"
  step "$name: built in $((SECONDS - t0))s"
}

build_kube etcd ./cmd/etcd
build_kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build_kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build_kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build_kube kubectl k8s.io/kubernetes/cmd/kubectl
build_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" --version
# NB: without the version stamp `helm template` assumes an old Kubernetes version.
EXTRA_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  build_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" version

step "all tools ready in $bin_dir ($((SECONDS - start_all))s)"
