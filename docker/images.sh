#!/usr/bin/env bash
# The container images' set-up and build, one script for the README, ./dev and the tests:
#   docker/images.sh setup           start a Docker engine if none answers, make the base image if missing
#   docker/images.sh build APP [...] build persona-APP:local (APP: flows, rfm, console), extra args to build
#   docker/images.sh docker ARGS...  the docker client against the engine `setup` found or started
# No container registry is reachable here, so the base image is made from Debian's packages with
# mmdebstrap and `docker import` (once per machine: skipped when the image exists). The engine is an
# already running one when it answers (DOCKER_HOST, else /var/run/docker.sock); otherwise Debian's
# dockerd is started in the background with the vfs storage driver (no overlay mounts in this sandbox),
# no bridge and no iptables rules (builds and containers use the host's network), its socket, log and
# data under $PERSONA_DOCKER_DIR (~/.cache/persona/docker). It keeps running for later builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"

BASE_IMAGE="${PERSONA_BASE_IMAGE:-persona/debian-base:bookworm}"
DOCKER_DIR="${PERSONA_DOCKER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/persona/docker}"
# Debian's client (20.10, BuildKit built in) matches Debian's dockerd; a newer client on PATH without
# the buildx plugin cannot use BuildKit, which the Dockerfiles' secret and cache mounts need.
DOCKER_CLI="${PERSONA_DOCKER_CLI:-/usr/bin/docker}"
[ -x "$DOCKER_CLI" ] || DOCKER_CLI="$(command -v docker)"
DEBIAN_MIRROR="${PERSONA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY="${PERSONA_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"

say() { echo "==> $*" >&2; }

engine_answers() { DOCKER_HOST="$1" "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Picks the engine: DOCKER_HOST if set and answering, the system socket if answering, else ours.
choose_engine() {
  if [ -n "${DOCKER_HOST:-}" ] && engine_answers "$DOCKER_HOST"; then return; fi
  if [ -S /var/run/docker.sock ] && engine_answers unix:///var/run/docker.sock; then
    export DOCKER_HOST=unix:///var/run/docker.sock
    return
  fi
  export DOCKER_HOST="unix://$DOCKER_DIR/docker.sock"
}

start_engine() {
  choose_engine
  if engine_answers "$DOCKER_HOST"; then return; fi
  [ "$DOCKER_HOST" = "unix://$DOCKER_DIR/docker.sock" ] || { echo "error: no engine at $DOCKER_HOST" >&2; exit 2; }
  command -v dockerd >/dev/null 2>&1 || { echo "error: dockerd not found (Debian's docker.io; ./dev installs it)" >&2; exit 2; }
  mkdir -p "$DOCKER_DIR"
  say "starting dockerd (vfs storage, host network only; log $DOCKER_DIR/dockerd.log)"
  # setsid: the engine outlives this script and the test session that started it (later builds reuse it).
  setsid dockerd \
    --host "$DOCKER_HOST" \
    --data-root "$DOCKER_DIR/data" \
    --exec-root "$DOCKER_DIR/exec" \
    --pidfile "$DOCKER_DIR/dockerd.pid" \
    --storage-driver vfs \
    --bridge none --iptables=false --ip6tables=false \
    >>"$DOCKER_DIR/dockerd.log" 2>&1 </dev/null &
  local deadline=$((SECONDS + 60))
  until engine_answers "$DOCKER_HOST"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "error: dockerd did not answer within 60 s; its log:" >&2
      tail -n 30 "$DOCKER_DIR/dockerd.log" >&2
      exit 2
    fi
    sleep 0.5
  done
}

# Debian bookworm minbase + Python 3.11 and the CA certificates, imported as $BASE_IMAGE.
ensure_base_image() {
  if "$DOCKER_CLI" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  command -v mmdebstrap >/dev/null 2>&1 || { echo "error: mmdebstrap not found (./dev installs it)" >&2; exit 2; }
  say "making the base image $BASE_IMAGE from Debian bookworm (mmdebstrap; once per machine)"
  local tarball
  tarball="$(mktemp --suffix=.tar)"
  trap 'rm -f "$tarball"' RETURN
  mmdebstrap --quiet --variant=minbase --mode=root \
    --include=python3.11,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$tarball" \
    "deb $DEBIAN_MIRROR bookworm main" \
    "deb $DEBIAN_MIRROR bookworm-updates main" \
    "deb $DEBIAN_SECURITY bookworm-security main"
  "$DOCKER_CLI" import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "mmdebstrap --variant=minbase bookworm + python3.11, ca-certificates" \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

build_image() {
  local app="$1"
  shift
  [ -f "$here/$app/Dockerfile" ] || { echo "error: no Dockerfile for $app (docker/$app/Dockerfile)" >&2; exit 2; }
  local args=(build --network host --file "$here/$app/Dockerfile" --tag "persona-$app:local"
    --build-arg "BASE_IMAGE=$BASE_IMAGE")
  # This sandbox reaches PyPI and Maven Central through a TLS-inspecting proxy whose CA only the host
  # trusts: hand the host's bundles to the build stages as BuildKit secrets (never part of an image).
  # A normal network needs neither.
  local ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
  [ -f "$ca" ] && args+=(--secret "id=ca,src=$ca")
  [ -f /etc/ssl/certs/java/cacerts ] && args+=(--secret "id=java-cacerts,src=/etc/ssl/certs/java/cacerts")
  DOCKER_BUILDKIT=1 "$DOCKER_CLI" "${args[@]}" "$@" "$repo"
  # With vfs every layer is a full copy of the file system: drop the image a rebuild replaced (untagged)
  # in our own engine; someone else's engine is left as it is.
  if [ "$DOCKER_HOST" = "unix://$DOCKER_DIR/docker.sock" ]; then
    "$DOCKER_CLI" image prune --force >/dev/null
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  setup)
    start_engine
    ensure_base_image
    ;;
  build)
    [ $# -ge 1 ] || { echo "usage: docker/images.sh build flows|rfm|console [docker build args]" >&2; exit 2; }
    start_engine
    ensure_base_image
    build_image "$@"
    ;;
  docker)
    choose_engine
    exec "$DOCKER_CLI" "$@"
    ;;
  *)
    echo "usage: docker/images.sh setup | build APP [ARGS...] | docker ARGS..." >&2
    exit 2
    ;;
esac
