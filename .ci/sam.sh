#!/usr/bin/env bash
# SAM CLI and cfn-lint for nudge. They live in their own virtualenv, .venv-tools, because their
# pins clash with the project's (.venv is never touched here). Nothing talks to AWS: dummy
# credentials, no telemetry. Only PyPI is used: by `tools`, and by `build` (pip fetches the
# layer's packages, as wheels for the target architecture).
#
#   bash .ci/sam.sh tools      create or reuse .venv-tools (aws-sam-cli + cfn-lint)
#   bash .ci/sam.sh validate   tools, then cfn-lint and `sam validate --lint` (zero warnings)
#   bash .ci/sam.sh checkov    cfn-lint and checkov on template.yaml (make lint); checkov lives in
#                              its own .venv-checkov: it pins a boto3 that aws-sam-cli's pin excludes
#   bash .ci/sam.sh build      validate, then `sam build` into .aws-sam/
#   bash .ci/sam.sh local      = make sam-local: sam build for this machine's architecture, then
#                              `sam local invoke` of every function in template.yaml with its
#                              sample events against a local moto server; fails if any handler
#                              raised, timed out or reported a failure (see cmd_local below)
#   bash .ci/sam.sh local --break-moto
#                              the same set-up, but the moto server is stopped before the first
#                              invoke: the handler's AWS call fails, and so must this command
#
# Environment:
#   NUDGE_ARCH        build for this architecture: arm64 | x86_64 | host (default: the
#                     template's default, arm64, which is what `sam deploy` ships; `local`
#                     always uses host)
#   SAM_CLI_VERSION   aws-sam-cli version for .venv-tools (default below)
#   CFN_LINT_VERSION  cfn-lint version for .venv-tools (default below)
#   TOOLS_PYTHON      interpreter for .venv-tools (default: python3.11, else 3.12 / 3.13)
#   NUDGE_SAM_DOCKER  local: auto (default: a Docker daemon already running is used, else one is
#                     started here) | own (always start one here)
#   NUDGE_LAMBDA_IMAGE  local: auto (default: the real base image if it is there or can be
#                     pulled from a Docker that was already running, else the stand-in built by
#                     .ci/lambda-image/build.sh) | real | stand-in
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so a new lint rule or SAM release cannot turn CI red overnight; bump on purpose.
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
CFN_LINT_VERSION="${CFN_LINT_VERSION:-1.58.0}"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
TOOLS=.venv-tools
STAMP="$TOOLS/.stamp-nudge"

log() { printf 'sam.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# find_python X.Y: print the path of a working pythonX.Y, or nothing. A name on PATH is not
# enough: a pyenv shim for a version that is installed but not selected exists and fails.
find_python() {
  local want="$1" cand
  local -a cands=()
  command -v "python$want" >/dev/null 2>&1 && cands+=("$(command -v "python$want")")
  local pyenv_root="${PYENV_ROOT:-${HOME:-}/.pyenv}"
  # Newest patch release first.
  while IFS= read -r cand; do cands+=("$cand"); done < <(
    printf '%s\n' "$pyenv_root"/versions/"$want".*/bin/"python$want" | sort -V -r
  )
  cands+=("/usr/local/bin/python$want" "/usr/bin/python$want")
  if command -v uv >/dev/null 2>&1; then
    cand="$(uv python find --no-project "$want" 2>/dev/null || true)"
    [[ -n "$cand" ]] && cands+=("$cand")
  fi
  for cand in "${cands[@]}"; do
    [[ -x "$cand" ]] || continue
    # Print the real interpreter (not a shim), so its directory can go first on PATH.
    if "$cand" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" \
        >/dev/null 2>&1; then
      "$cand" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

# The functions' runtime, read from template.yaml (Globals.Function.Runtime), e.g. python3.12.
runtime() {
  local rt
  rt="$(sed -n 's/^ *Runtime: *\(python3\.[0-9][0-9]*\) *$/\1/p' template.yaml | head -n 1)"
  [[ -n "$rt" ]] || die "no 'Runtime: python3.N' found in template.yaml"
  printf '%s\n' "$rt"
}

tools_python() {
  if [[ -n "${TOOLS_PYTHON:-}" ]]; then printf '%s\n' "$TOOLS_PYTHON"; return; fi
  local v
  for v in 3.11 3.12 3.13; do
    if find_python "$v"; then return 0; fi
  done
  die "no python3.11 (or 3.12/3.13) found for $TOOLS"
}

cmd_tools() {
  local want="aws-sam-cli==$SAM_CLI_VERSION cfn-lint==$CFN_LINT_VERSION"
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] \
      && "$TOOLS/bin/sam" --version >/dev/null 2>&1 \
      && "$TOOLS/bin/cfn-lint" --version >/dev/null 2>&1; then
    return 0
  fi
  local py start=$SECONDS
  if [[ ! -x "$TOOLS/bin/python" ]] || ! "$TOOLS/bin/python" -c 'pass' 2>/dev/null; then
    py="$(tools_python)"
    log "creating $TOOLS with $py ($("$py" --version 2>&1))"
    rm -rf "$TOOLS"
    "$py" -m venv "$TOOLS"
  fi
  log "installing $want into $TOOLS"
  # pip's log goes to a file: this machine's extra indexes make it print hundreds of
  # harmless "Location ... is ignored" warnings. Shown in full if the install fails.
  if ! { "$TOOLS/bin/python" -m pip install --upgrade pip \
         && "$TOOLS/bin/python" -m pip install "aws-sam-cli==$SAM_CLI_VERSION" \
              "cfn-lint==$CFN_LINT_VERSION"; } >"$TOOLS/install.log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$TOOLS/install.log" | tail -n 40 >&2
    die "installing the tools failed (full log: $TOOLS/install.log)"
  fi
  printf '%s' "$want" >"$STAMP"
  log "tools ready in $((SECONDS - start)) s: $("$TOOLS/bin/sam" --version), $("$TOOLS/bin/cfn-lint" --version)"
}

# Offline and credential-free: SAM and cfn-lint never reach AWS from here.
offline_env() {
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
  export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export AWS_MAX_ATTEMPTS=1 AWS_EC2_METADATA_DISABLED=true
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  unset AWS_PROFILE AWS_DEFAULT_PROFILE
  export SAM_CLI_TELEMETRY=0
}

cmd_validate() {
  cmd_tools
  offline_env
  log "cfn-lint template.yaml"
  # Exit status is non-zero on any error, warning or informational finding.
  "$TOOLS/bin/cfn-lint" template.yaml
  log "sam validate --lint"
  "$TOOLS/bin/sam" validate --lint --template-file template.yaml
}

# checkov in its own virtualenv (its boto3 pin and aws-sam-cli's cannot share one).
CHECKOV=.venv-checkov
cmd_checkov_tools() {
  local want="checkov==$CHECKOV_VERSION" stamp="$CHECKOV/.stamp-nudge"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
      && "$CHECKOV/bin/checkov" --version >/dev/null 2>&1; then
    return 0
  fi
  local py start=$SECONDS
  py="$(tools_python)"
  log "creating $CHECKOV with $py and installing $want"
  rm -rf "$CHECKOV"
  "$py" -m venv "$CHECKOV"
  if ! { "$CHECKOV/bin/python" -m pip install --upgrade pip \
         && "$CHECKOV/bin/python" -m pip install "$want"; } >"$CHECKOV/install.log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$CHECKOV/install.log" | tail -n 40 >&2
    die "installing checkov failed (full log: $CHECKOV/install.log)"
  fi
  printf '%s' "$want" >"$stamp"
  log "checkov ready in $((SECONDS - start)) s: $("$CHECKOV/bin/checkov" --version)"
}

# make lint: cfn-lint and checkov on template.yaml. checkov fails on any failed check; each
# skipped one carries its reason in template.yaml (Metadata.checkov.skip or a checkov:skip comment).
cmd_checkov() {
  cmd_tools
  cmd_checkov_tools
  offline_env
  log "cfn-lint template.yaml"
  "$TOOLS/bin/cfn-lint" template.yaml
  log "checkov template.yaml"
  "$CHECKOV/bin/checkov" --quiet --compact --skip-download --framework cloudformation \
    --file template.yaml
}

host_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x86_64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "unsupported host architecture: $(uname -m)" ;;
  esac
}

cmd_build() {
  local rt ver py arch
  local -a overrides=()
  arch="${NUDGE_ARCH:-}"
  [[ "$arch" == host ]] && arch="$(host_arch)"
  case "$arch" in
    "") ;;
    arm64 | x86_64) overrides=(--parameter-overrides "Architecture=$arch") ;;
    *) die "NUDGE_ARCH must be arm64, x86_64 or host (got '$arch')" ;;
  esac
  rt="$(runtime)"
  ver="${rt#python}"
  py="$(find_python "$ver")" \
    || die "template.yaml says Runtime: $rt, and no working python$ver was found (PATH, pyenv, /usr/bin, uv)"
  cmd_validate
  # sam build looks up python$ver on PATH: put the real interpreter ahead of any pyenv shim.
  PATH="$(dirname "$py"):$PATH"
  export PATH
  log "sam build ($rt from $py${arch:+, Architecture=$arch})"
  local start=$SECONDS
  "$TOOLS/bin/sam" build --template-file template.yaml ${overrides[@]+"${overrides[@]}"}
  log "built in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------------------------
# local: `sam local invoke` of every function with its sample events (make sam-local).
#
# What it needs, set up here if missing and reused when present (machine-wide, so a fresh clone
# on the same machine reuses it too):
#   - Debian's docker.io and mmdebstrap (apt, as root; the packages' services are not started);
#   - a Docker daemon: one already running is used; otherwise dockerd is started here in the
#     background with its own socket, data root and pid file under $SAM_LOCAL_RUN and
#     $SAM_LOCAL_STATE, and stopped by its pid when this command ends, however it ends;
#   - the Lambda Python base image, or where it cannot be had a stand-in built from Debian
#     packages and PyPI (.ci/lambda-image/build.sh), cached in that daemon's data root, and
#     built in the background while the steps below run;
#   - SAM CLI (.venv-tools, `tools`), the project's .venv with moto's server.
# Then `sam build` for this machine's architecture (Architecture=x86_64 or arm64 as a parameter
# override: template.yaml keeps arm64 for deploys) and .ci/sam_local_check.py, which starts a
# moto server on the Docker bridge, creates the table, queues, bus, schedule group and SES
# identity there, invokes every function with each of its events (.ci/sam-local-events.txt),
# checks each result and stops the server.
# ---------------------------------------------------------------------------------------------
if [[ "$(id -u)" == 0 ]]; then
  SAM_LOCAL_STATE="${NUDGE_SAM_LOCAL_STATE:-/var/lib/nudge-sam-local}"
  SAM_LOCAL_RUN="${NUDGE_SAM_LOCAL_RUN:-/run/nudge-sam-local}"
else  # with a Docker already running, no root is needed
  SAM_LOCAL_STATE="${NUDGE_SAM_LOCAL_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/nudge-sam-local}"
  SAM_LOCAL_RUN="${NUDGE_SAM_LOCAL_RUN:-${XDG_RUNTIME_DIR:-/tmp}/nudge-sam-local-$(id -u)}"
fi
LOCAL_LOGS=.sam-local
OWN_DOCKERD_PID=""
CHECK_PID=""

# ensure_packages COMMAND:PACKAGE...: install with apt, once, the packages of the commands that
# are missing. Their init scripts are kept from starting daemons (policy-rc.d): these machines
# have no service manager, and dockerd is started here, for the run only.
ensure_packages() {
  local -a missing=()
  local pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "sam local needs ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) or run as root"
  fi
  local start=$SECONDS policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  log "installing ${missing[*]} (apt)"
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  } >"$LOCAL_LOGS/apt.log" 2>&1 || rc=$?
  ((made_policy)) && rm -f "$policy"
  if ((rc)); then
    tail -n 30 "$LOCAL_LOGS/apt.log" >&2
    die "apt-get install ${missing[*]} failed (log: $LOCAL_LOGS/apt.log)"
  fi
  log "installed ${missing[*]} in $((SECONDS - start)) s"
}

# The project's .venv, with moto's server (Flask) for a moto server the containers can reach.
ensure_project_venv() {
  make --no-print-directory -s .venv/.stamp-run
  if ! .venv/bin/python -c 'import flask, flask_cors' >/dev/null 2>&1; then
    local moto_version
    moto_version="$(.venv/bin/python -c 'import moto; print(moto.__version__)')"
    log "installing moto[server]==$moto_version into .venv (for moto_server)"
    .venv/bin/python -m pip install -q "moto[server]==$moto_version" >"$LOCAL_LOGS/pip-moto.log" 2>&1 \
      || { tail -n 20 "$LOCAL_LOGS/pip-moto.log" >&2; die "installing moto[server] failed"; }
  fi
}

docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

# Processes still running whose command line names our run directory (dockerd's containerd
# and shims live under it): printed as "pid command".
leftovers() {
  ps -eo pid=,args= | awk -v run="$SAM_LOCAL_RUN/" -v self="$$" \
    'index($0, run) && $1 != self && $0 !~ /awk -v run=/ {print}'
}

stop_pid() {  # stop_pid PID NAME: TERM, up to 30 s, then KILL
  local pid="$1" name="$2" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$name ($pid) did not stop in 30 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

start_dockerd() {
  mkdir -p "$SAM_LOCAL_RUN" "$SAM_LOCAL_STATE/docker"
  local pidfile="$SAM_LOCAL_RUN/dockerd.pid" old
  # A run that was killed (not stopped) may have left its daemon: it is ours, end it by its pid.
  if [[ -s "$pidfile" ]]; then
    old="$(cat "$pidfile")"
    if kill -0 "$old" 2>/dev/null && tr '\0' ' ' <"/proc/$old/cmdline" | grep -qF "$SAM_LOCAL_RUN/"; then
      log "stopping dockerd $old left by an earlier run"
      stop_pid "$old" dockerd
    fi
    rm -f "$pidfile"
  fi
  export DOCKER_HOST="unix://$SAM_LOCAL_RUN/docker.sock"
  # Bridge networking (SAM reaches the container through a published port, and the container
  # reaches moto on the bridge's gateway address); no iptables rules: nothing leaves the machine.
  dockerd --host "$DOCKER_HOST" --data-root "$SAM_LOCAL_STATE/docker" \
    --exec-root "$SAM_LOCAL_RUN/exec" --pidfile "$pidfile" \
    --iptables=false --ip-masq=false >"$LOCAL_LOGS/dockerd.log" 2>&1 9>&- &
  OWN_DOCKERD_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    docker_ok && break
    kill -0 "$OWN_DOCKERD_PID" 2>/dev/null \
      || { tail -n 20 "$LOCAL_LOGS/dockerd.log" >&2; die "dockerd exited (log: $LOCAL_LOGS/dockerd.log)"; }
    sleep 0.1
  done
  docker_ok || { tail -n 20 "$LOCAL_LOGS/dockerd.log" >&2; die "dockerd did not answer in 30 s"; }
  log "dockerd $OWN_DOCKERD_PID started ($DOCKER_HOST, data root $SAM_LOCAL_STATE/docker)"
}

stop_dockerd() {
  [[ -n "$OWN_DOCKERD_PID" ]] || return 0
  # Containers SAM did not get to remove (it was interrupted); SAM's images (it rebuilds its
  # image of base + layers on every invoke, so keeping them saves nothing) and what they left
  # untagged; then the daemon and its containerd.
  { docker ps -aq 2>/dev/null || true; } | xargs -r docker rm -f >/dev/null 2>&1 || true
  { docker images -q --filter 'reference=samcli/*' 2>/dev/null || true; } \
    | xargs -r docker rmi -f >/dev/null 2>&1 || true
  docker image prune -f >/dev/null 2>&1 || true
  local children pid rest
  children="$(ps -o pid= --ppid "$OWN_DOCKERD_PID" 2>/dev/null || true)"  # containerd, docker-proxy
  stop_pid "$OWN_DOCKERD_PID" dockerd
  wait "$OWN_DOCKERD_PID" 2>/dev/null || true
  while read -r pid rest; do
    [[ -n "$pid" ]] || continue
    log "still running after dockerd stopped, stopping: $pid $rest"
    stop_pid "$pid" "$rest"
  done < <(leftovers; for pid in $children; do
             ps -o pid=,args= -p "$pid" 2>/dev/null || true
           done)
  OWN_DOCKERD_PID=""
}

local_cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  if [[ -n "$CHECK_PID" ]] && kill -0 "$CHECK_PID" 2>/dev/null; then
    kill -TERM "$CHECK_PID" 2>/dev/null || true
    wait "$CHECK_PID" 2>/dev/null || true
  fi
  if [[ -n "$IMAGE_JOB" ]] && kill -0 "$IMAGE_JOB" 2>/dev/null; then
    log "stopping the image build ($IMAGE_JOB) left unfinished"
    kill -TERM -- "-$IMAGE_JOB" 2>/dev/null || true
    wait "$IMAGE_JOB" 2>/dev/null || true
  fi
  if [[ -s "$SAM_LOCAL_RUN/moto.pid" ]]; then  # normally stopped by sam_local_check.py
    pid="$(cat "$SAM_LOCAL_RUN/moto.pid")"
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server; then
      stop_pid "$pid" moto_server
    fi
    rm -f "$SAM_LOCAL_RUN/moto.pid"
  fi
  stop_dockerd
  local left
  left="$(leftovers)"
  if [[ -n "$left" ]]; then
    log "processes left running:"
    printf '%s\n' "$left" >&2
    ((rc)) || rc=1
  elif [[ -n "${LOCAL_STARTED_DOCKERD:-}" ]]; then
    log "dockerd, containerd and moto_server stopped: no process left running"
  fi
  exit "$rc"
}

# The host's address on Docker's default bridge: containers reach the moto server there.
bridge_gateway() {
  local gw bridge
  gw="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
  if [[ -z "$gw" ]]; then  # Docker 20.10 leaves it out for the default bridge: ask the interface
    bridge="$(docker network inspect bridge \
                --format '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null || true)"
    gw="$(ip -4 -o addr show dev "${bridge:-docker0}" 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')"
  fi
  printf '%s\n' "$gw"
}

# The image SAM builds its invoke image on (IMAGE): the real one where it can be had, else the
# stand-in (.ci/lambda-image/build.sh), which, when it must be built, is built in the background
# (IMAGE_JOB) while SAM CLI is installed and the functions are built; image_wait waits for it.
IMAGE=""
IMAGE_JOB=""
image_start() {
  local py="$1" arch="$2" ver="${3#python}" mode="${NUDGE_LAMBDA_IMAGE:-auto}"
  local real="public.ecr.aws/lambda/python:$ver-$arch"
  case "$mode" in auto | real | stand-in) ;; *) die "NUDGE_LAMBDA_IMAGE must be auto, real or stand-in" ;; esac
  if [[ "$mode" != stand-in ]]; then
    if docker image inspect "$real" >/dev/null 2>&1; then
      log "using $real (already in Docker)"
      IMAGE="$real"
      return 0
    fi
    # Pull only from a Docker that was already set up (a developer's own): the one started here
    # is on a machine that reaches no image registry.
    if [[ "$mode" == real || -z "$OWN_DOCKERD_PID" ]]; then
      log "pulling $real"
      if timeout 300 docker pull -q "$real" >"$LOCAL_LOGS/pull.log" 2>&1; then
        IMAGE="$real"
        return 0
      fi
      [[ "$mode" == real ]] && { cat "$LOCAL_LOGS/pull.log" >&2; die "cannot pull $real"; }
      log "cannot pull $real ($(tail -n 1 "$LOCAL_LOGS/pull.log")): using the stand-in"
    fi
  fi
  IMAGE="$(bash .ci/lambda-image/build.sh name "$py" "$arch" "$SAM_LOCAL_STATE")"
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "reusing $IMAGE"
    return 0
  fi
  [[ "$(id -u)" != 0 ]] || ensure_packages mmdebstrap:mmdebstrap
  log "building $IMAGE in the background (log: $LOCAL_LOGS/lambda-image.log)"
  # Its own process group, so that an early exit can end all of it (mmdebstrap, pip) at once.
  setsid bash .ci/lambda-image/build.sh build "$py" "$arch" "$SAM_LOCAL_STATE" \
    >"$LOCAL_LOGS/lambda-image.out" 2>"$LOCAL_LOGS/lambda-image.log" </dev/null 9>&- &
  IMAGE_JOB=$!
}

image_wait() {
  [[ -n "$IMAGE_JOB" ]] || return 0
  local rc=0
  wait "$IMAGE_JOB" || rc=$?
  IMAGE_JOB=""
  cat "$LOCAL_LOGS/lambda-image.log" >&2
  ((rc == 0)) || die "building the Lambda image stand-in failed (log: $LOCAL_LOGS/lambda-image.log)"
}

cmd_local() {
  local break_moto=0 arg
  for arg in "$@"; do
    case "$arg" in
      --break-moto) break_moto=1 ;;
      *) die "usage: bash .ci/sam.sh local [--break-moto]" ;;
    esac
  done
  local start=$SECONDS arch rt py gateway docker_mode="${NUDGE_SAM_DOCKER:-auto}"
  mkdir -p "$LOCAL_LOGS" "$SAM_LOCAL_STATE" "$SAM_LOCAL_RUN"
  # One run at a time per machine: they would share the daemon's data root and the bridge.
  exec 9>"$SAM_LOCAL_STATE/lock"
  flock -w 900 9 || die "another sam local run holds $SAM_LOCAL_STATE/lock"

  arch="$(host_arch)"
  rt="$(runtime)"
  py="$(find_python "${rt#python}")" || die "no working $rt found (PATH, pyenv, /usr/bin, uv)"
  case "$docker_mode" in
    auto | own) ;;
    *) die "NUDGE_SAM_DOCKER must be auto or own" ;;
  esac
  if [[ "$docker_mode" == auto ]] && docker_ok; then
    log "using the Docker daemon already running (${DOCKER_HOST:-its default socket})"
  else
    ensure_packages dockerd:docker.io mmdebstrap:mmdebstrap
    docker_mode=own
  fi

  trap local_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if [[ "$docker_mode" == own ]]; then
    LOCAL_STARTED_DOCKERD=1
    start_dockerd
  fi
  image_start "$py" "$arch" "$rt"
  ensure_project_venv
  NUDGE_ARCH=host cmd_build   # tools, cfn-lint, sam validate --lint, sam build (cached)
  image_wait
  gateway="$(bridge_gateway)"
  [[ -n "$gateway" ]] || die "cannot find the Docker bridge's gateway address (docker network inspect bridge)"
  log "set up in $((SECONDS - start)) s: image $IMAGE, moto on $gateway"

  offline_env
  local -a flags=()
  ((break_moto)) && flags+=(--break-moto)
  # In the background and waited for, so that a TERM or INT reaches the trap at once (the
  # cleanup then stops the checker, which stops its moto server).
  .venv/bin/python .ci/sam_local_check.py --sam "$TOOLS/bin/sam" --image "$IMAGE" \
    --arch "$arch" --host "$gateway" --logs "$LOCAL_LOGS" --moto-pidfile "$SAM_LOCAL_RUN/moto.pid" \
    ${flags[@]+"${flags[@]}"} </dev/null 9>&- &
  CHECK_PID=$!
  local rc=0
  wait "$CHECK_PID" || rc=$?
  CHECK_PID=""
  log "done in $((SECONDS - start)) s"
  return "$rc"
}

case "${1:-}" in
  tools) cmd_tools ;;
  validate) cmd_validate ;;
  checkov) cmd_checkov ;;
  build) cmd_build ;;
  local) shift; cmd_local "$@" ;;
  *)
    echo "usage: bash .ci/sam.sh tools|validate|checkov|build|local" >&2
    exit 2
    ;;
esac
