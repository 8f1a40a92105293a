#!/usr/bin/env bash
# A local stand-in for the Lambda Python base image (public.ecr.aws/lambda/python:3.N), for
# machines that reach no image registry. Made only from Debian packages and PyPI:
#
#   - a Debian bookworm root filesystem (mmdebstrap --variant=minbase, plus the shared libraries
#     CPython's extension modules load: OpenSSL, libffi, SQLite, expat, bzip2, xz, zlib, uuid);
#   - CPython N.M copied from this machine's own self-contained build (pyenv's), at the same path
#     since its RPATH is absolute, without its tests, IDLE, Tk and site-packages. Debian bookworm
#     has Python 3.11 only, and the layers' compiled wheels (pydantic-core) are built for the
#     functions' Python;
#   - awslambdaric and boto3 from PyPI in /var/runtime (requirements.txt), as the real image has;
#   - /var/runtime/bootstrap, which the runtime interface emulator SAM adds on top starts.
#
# Then `docker import`. The tag carries a hash of everything above, so an unchanged recipe reuses
# the image and a changed one rebuilds it. The Debian tree is cached apart, as a tarball
# (CACHE/rootfs-*.tar): rebuilding the image after a recipe change skips the download.
#
#   bash .ci/lambda-image/build.sh name  PYTHON ARCH CACHE   print the image's name
#   bash .ci/lambda-image/build.sh build PYTHON ARCH CACHE   build it unless it exists; print it
#
# `build` needs root (mmdebstrap), mmdebstrap, and DOCKER_HOST pointing at a running daemon.
# Environment: NUDGE_DEBIAN_MIRROR  Debian mirror (default: the one apt uses here).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
log() { printf 'lambda-image: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ $# -eq 4 && ("$1" == name || "$1" == build) ]] || die "usage: build.sh name|build PYTHON ARCH CACHE"
mode="$1" py="$2" arch="$3" cache="$4"

SUITE=bookworm
PACKAGES=ca-certificates,libssl3,libffi8,libsqlite3-0,libexpat1,libbz2-1.0,liblzma5,zlib1g,libuuid1
REPO=nudge-lambda-python

read -r ver full prefix < <("$py" -c \
  'import sys; print("%d.%d" % sys.version_info[:2], sys.version.split()[0], sys.base_prefix)')
case "$arch" in
  x86_64) debarch=amd64 machine=x86_64 ;;
  arm64) debarch=arm64 machine=aarch64 ;;
  *) die "unknown architecture '$arch' (x86_64 or arm64)" ;;
esac

key="$( { cat "$here/build.sh" "$here/bootstrap" "$here/requirements.txt"
          echo "$full $prefix $arch $SUITE $PACKAGES"; } | sha256sum | cut -c1-12)"
image="$REPO:$ver-$arch-$key"
if [[ "$mode" == name ]]; then
  echo "$image"
  exit 0
fi
if docker image inspect "$image" >/dev/null 2>&1; then
  log "reusing $image"
  echo "$image"
  exit 0
fi

[[ "$(uname -m)" == "$machine" ]] \
  || die "the stand-in is built for this machine's architecture only ($(uname -m), not $arch)"
[[ "$(id -u)" == 0 ]] || die "building $image needs root (mmdebstrap)"
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
[[ "$prefix" != /usr && -x "$prefix/bin/python$ver" && -d "$prefix/lib/python$ver" ]] \
  || die "$py ($prefix) is not a self-contained Python build (pyenv's, or one under /opt or /usr/local)"

# The Debian mirror apt already uses here (deb822 or one-line sources), else the default one.
apt_mirror() {
  local uri
  uri="$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u {print u; exit}' \
           /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [[ -n "$uri" ]] || uri="$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' \
                              /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

start=$SECONDS
mkdir -p "$cache"
rootfs="$cache/rootfs-$SUITE-$debarch-$(echo "$SUITE $PACKAGES" | sha256sum | cut -c1-8).tar"
if [[ ! -s "$rootfs" ]]; then
  mirror="${NUDGE_DEBIAN_MIRROR:-$(apt_mirror)}"
  log "mmdebstrap $SUITE ($debarch, minbase) from $mirror"
  # Straight to a tarball: no directory with /proc or /dev mounted in it is ever left behind.
  if ! mmdebstrap --variant=minbase --architectures="$debarch" --include="$PACKAGES" \
      --format=tar --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      "$SUITE" "$rootfs.partial" "$mirror" >"$cache/mmdebstrap.log" 2>&1; then
    tail -n 30 "$cache/mmdebstrap.log" >&2
    rm -f "$rootfs.partial"
    die "mmdebstrap failed (log: $cache/mmdebstrap.log)"
  fi
  mv "$rootfs.partial" "$rootfs"
  log "root filesystem ready in $((SECONDS - start)) s"
fi

stage="$(mktemp -d "$cache/stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
tar -C "$stage" --numeric-owner -xf "$rootfs"
chmod 755 "$stage"

log "adding Python $full from $prefix"
lib="${prefix#/}/lib/python$ver"
paths=("${prefix#/}/bin/python$ver" "$lib")
for so in "$prefix"/lib/libpython"$ver"*.so*; do
  [[ -e "$so" ]] && paths+=("${so#/}")
done
tar -C / -cf - \
  --exclude="$lib/test" --exclude="$lib/idlelib" --exclude="$lib/tkinter" \
  --exclude="$lib/turtledemo" --exclude="$lib/ensurepip" --exclude="$lib/site-packages" \
  --exclude="$lib/config-$ver-*" --exclude="$lib/lib2to3/tests" \
  --exclude="$lib/lib-dynload/_tkinter*" --exclude='*.opt-1.pyc' --exclude='*.opt-2.pyc' \
  "${paths[@]}" | tar -C "$stage" -xf -
mkdir -p "$stage/$lib/site-packages" "$stage/var/lang/bin" "$stage/var/task" "$stage/var/runtime"
# Let any user in the container reach Python (pyenv keeps it under /root).
dir="$prefix"
while [[ "$dir" != / ]]; do chmod 755 "$stage$dir"; dir="$(dirname "$dir")"; done
chmod 755 "$stage/var"
ln -sf "$prefix/bin/python$ver" "$stage/var/lang/bin/python$ver"
ln -sf "python$ver" "$stage/var/lang/bin/python3"
ln -sf "python$ver" "$stage/var/lang/bin/python"

log "installing $(grep -v '^#' "$here/requirements.txt" | xargs) into /var/runtime"
if ! "$py" -m pip install --disable-pip-version-check --no-warn-script-location \
    --only-binary=:all: --target "$stage/var/runtime" -r "$here/requirements.txt" \
    >"$cache/pip.log" 2>&1; then
  grep -v "is ignored: it is neither a file nor a directory" "$cache/pip.log" | tail -n 30 >&2
  die "pip install failed (log: $cache/pip.log)"
fi
rm -rf "$stage/var/runtime/bin"
sed "s/@PY@/$ver/g" "$here/bootstrap" >"$stage/var/runtime/bootstrap"
chmod 755 "$stage/var/runtime/bootstrap"

log "docker import $image"
tar -C "$stage" --numeric-owner -c . | docker import \
  --change "ENV LAMBDA_TASK_ROOT=/var/task" \
  --change "ENV LAMBDA_RUNTIME_DIR=/var/runtime" \
  --change "ENV LANG=C.UTF-8" \
  --change "ENV TZ=:UTC" \
  --change "ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin" \
  --change "WORKDIR /var/task" \
  --change "LABEL nudge.stand-in=python$ver nudge.recipe=$key" \
  - "$image" >/dev/null

# Every extension module a handler may plausibly load must find its shared library.
if ! docker run --rm --network none -e PYTHONPATH=/var/runtime --entrypoint "/var/lang/bin/python$ver" \
    "$image" -c 'import bz2, ctypes, decimal, hashlib, json, lzma, pyexpat, sqlite3, ssl, uuid, zlib
import zoneinfo, awslambdaric, boto3' >&2; then
  docker rmi "$image" >/dev/null 2>&1 || true
  die "Python $full does not work in the stand-in image"
fi

# Older stand-ins (another recipe) are of no further use.
docker images "$REPO" --format '{{.Repository}}:{{.Tag}}' | { grep -vxF "$image" || true; } \
  | xargs -r docker rmi >/dev/null 2>&1 || true
log "built $image in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$image" \
  | awk '{printf "%d MB", $1 / 1e6}'))"
echo "$image"
