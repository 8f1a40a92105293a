#!/usr/bin/env bash
# SAM CLI and cfn-lint for nudge. They live in their own virtualenv, .venv-tools, because their
# pins clash with the project's (.venv is never touched here). Nothing talks to AWS: dummy
# credentials, no telemetry. Only PyPI is used: by `tools`, and by `build` (pip fetches the
# layer's packages, as wheels for the target architecture).
#
#   bash .ci/sam.sh tools      create or reuse .venv-tools (aws-sam-cli + cfn-lint)
#   bash .ci/sam.sh validate   tools, then cfn-lint and `sam validate --lint` (zero warnings)
#   bash .ci/sam.sh build      validate, then `sam build` into .aws-sam/
#   bash .ci/sam.sh local      sam local invoke of every function (not yet implemented)
#
# Environment:
#   NUDGE_ARCH        build for this architecture: arm64 | x86_64 | host (default: the
#                     template's default, arm64, which is what `sam deploy` ships)
#   SAM_CLI_VERSION   aws-sam-cli version for .venv-tools (default below)
#   CFN_LINT_VERSION  cfn-lint version for .venv-tools (default below)
#   TOOLS_PYTHON      interpreter for .venv-tools (default: python3.11, else 3.12 / 3.13)
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so a new lint rule or SAM release cannot turn CI red overnight; bump on purpose.
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
CFN_LINT_VERSION="${CFN_LINT_VERSION:-1.58.0}"
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

cmd_local() {
  echo "sam-local: not yet implemented" >&2
  exit 1
}

case "${1:-}" in
  tools) cmd_tools ;;
  validate) cmd_validate ;;
  build) cmd_build ;;
  local) cmd_local ;;
  *)
    echo "usage: bash .ci/sam.sh tools|validate|build|local" >&2
    exit 2
    ;;
esac
