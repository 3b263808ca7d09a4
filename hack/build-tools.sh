#!/usr/bin/env bash
# Builds the pinned control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kubelet, kube-proxy, kwok, helm, coredns) from the Go module proxy into a cache outside the
# work tree, keyed by tool version and go.sum, and prints the directory holding them.
#
#   hack/build-tools.sh            build what is missing, print the bin directory
#   KUBEBUILDER_ASSETS=/dir ...    prebuilt control-plane binaries there win (helm/kwok
#                                  are still built unless present there too)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools"
cache_root="${LOCUST_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator/tools}"
bin_dir="$cache_root/bin"
mkdir -p "$bin_dir"

log() { printf '[build-tools] %s\n' "$*" >&2; }

module_version() { # module-dir module-path -> version from its go.mod
  awk -v m="$2" '$1 == "require" && $2 == m { print $3 } $1 == m { print $2 }' "$tools/$1/go.mod" | head -n 1
}

# Go names a binary after the last import-path element that is not a major version (/v3).
bin_name() { local b; b="$(basename "$1")"; [[ "$b" =~ ^v[0-9]+$ ]] && b="$(basename "$(dirname "$1")")"; echo "$b"; }

# Contents only: the key must not depend on where the repository is checked out. A module
# with its own main package (coredns) keys on its sources too.
sum_key() {
  local sources=("$tools/$1/go.mod" "$tools/$1/go.sum")
  [ -e "$tools/$1/main.go" ] && sources+=("$tools/$1/main.go")
  cat "${sources[@]}" | sha256sum | cut -c1-12
}

# build MODULE_DIR VERSION LDFLAGS PKG... : builds the packages of one tool module into a
# versioned directory, once; links the binaries into $bin_dir.
build() {
  local dir="$1" version="$2" ldflags="$3"; shift 3
  local out="$cache_root/$dir-$version-$(sum_key "$dir")"
  local missing=()
  for pkg in "$@"; do
    [ -x "$out/$(bin_name "$pkg")" ] || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "building $dir $version: ${missing[*]##*/} (first build takes minutes; cached afterwards)"
    local start=$SECONDS
    mkdir -p "$out.partial"
    (cd "$tools/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly \
      go build -trimpath -ldflags "-s -w $ldflags" -o "$out.partial/" "${missing[@]}")
    mkdir -p "$out"
    mv "$out.partial"/* "$out/"
    rmdir "$out.partial"
    log "built $dir $version in $((SECONDS - start))s"
  fi
  for pkg in "$@"; do
    ln -sfn "$out/$(bin_name "$pkg")" "$bin_dir/$(bin_name "$pkg")"
  done
}

k8s_version="$(module_version kubernetes k8s.io/kubernetes)"
k8s_minor="$(echo "$k8s_version" | cut -d. -f2)"
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

control_plane=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  log "using prebuilt control-plane binaries from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  for b in "${control_plane[@]}"; do
    [ -x "$KUBEBUILDER_ASSETS/$b" ] || { log "missing $KUBEBUILDER_ASSETS/$b"; exit 1; }
    ln -sfn "$KUBEBUILDER_ASSETS/$b" "$bin_dir/$b"
  done
else
  build etcd "$(module_version etcd go.etcd.io/etcd/server/v3)" "" go.etcd.io/etcd/server/v3
  # etcd's main package is go.etcd.io/etcd/server/v3, so its binary is named "server".
  mv -f "$bin_dir/server" "$bin_dir/etcd"
  build kubernetes "$k8s_version" "$k8s_ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
fi

build_unless_prebuilt() { # tool module-path ldflags-format pkg
  local tool="$1" version
  if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$tool" ]; then
    ln -sfn "$KUBEBUILDER_ASSETS/$tool" "$bin_dir/$tool"
    return
  fi
  version="$(module_version "$tool" "$2")"
  build "$tool" "$version" "$(printf -- "$3" "$version")" "$4"
}
build_unless_prebuilt kwok sigs.k8s.io/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=%s" sigs.k8s.io/kwok/cmd/kwok
build_unless_prebuilt helm helm.sh/helm/v3 "-X helm.sh/helm/v3/internal/version.version=%s" helm.sh/helm/v3/cmd/helm
# Cluster DNS for the real node: a CoreDNS main with only the plugins it needs (tools/coredns).
build_unless_prebuilt coredns github.com/coredns/coredns \
  "-X github.com/coredns/coredns/coremain.GitCommit=%s" github.com/locust-k8s-operator/hack/tools/coredns

echo "$bin_dir"
