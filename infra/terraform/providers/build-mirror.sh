#!/usr/bin/env bash
# Builds the Terraform providers the module uses from the Go module proxy, as published (plain
# `go mod download` + `go build` of each provider's own module, go.mod untouched), into a local
# filesystem mirror. The public provider registry cannot be reached from the project's machines;
# the Go module proxy can. Cached per machine: a provider already in the mirror is not rebuilt.
#   infra/terraform/providers/build-mirror.sh [MIRROR_DIR]
# MIRROR_DIR defaults to $PERSONA_TF_MIRROR or ~/.cache/persona/terraform-providers.
set -euo pipefail

mirror=${1:-${PERSONA_TF_MIRROR:-${XDG_CACHE_HOME:-$HOME/.cache}/persona/terraform-providers}}
platform="$(go env GOOS)_$(go env GOARCH)"

# source address | mirror version | Go module | module version (pinned; see providers/README.md)
providers=(
  "registry.terraform.io/hashicorp/kubernetes|3.2.2-dev.20260821094251|github.com/hashicorp/terraform-provider-kubernetes|v1.13.4-0.20260821094251-3a33fb6cc605"
  "registry.terraform.io/kbst/kustomization|0.9.8|github.com/kbst/terraform-provider-kustomization|v0.9.8"
)

for row in "${providers[@]}"; do
  IFS='|' read -r source version module module_version <<<"$row"
  type=${source##*/}
  dest="$mirror/$source/$version/$platform"
  binary="$dest/terraform-provider-${type}_v${version}"
  if [ -x "$binary" ]; then
    echo "==> $source $version: cached in $dest" >&2
    continue
  fi
  echo "==> building $source $version from $module@$module_version (once per machine)" >&2
  dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$module_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "error: go mod download gave no directory for $module@$module_version" >&2; exit 2; }
  mkdir -p "$dest"
  # The module cache is read-only; the build writes only the binary (to a temporary name, then moved,
  # so an interrupted build never leaves a half-written provider behind).
  (cd "$dir" && go mod download && CGO_ENABLED=0 go build -trimpath -o "$binary.tmp" .)
  mv "$binary.tmp" "$binary"
done
echo "$mirror"
