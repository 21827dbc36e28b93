# shellcheck shell=bash
# Sourced by .ci/run and .ci/wine (bash): timed steps, and the pinned build-tools venv.

_steps_t0=$SECONDS _step_name="" _step_t=$SECONDS
_step_log=()

# step NAME: close the previous step, print NAME with the time since the script started.
step() {
  _step_close
  _step_name="$*" _step_t=$SECONDS
  printf '\n==> %s (t=%ss)\n' "$*" "$((SECONDS - _steps_t0))"
}

_step_close() {
  if [[ -n $_step_name ]]; then
    _step_log+=("$(printf '%6ss  %s' "$((SECONDS - _step_t))" "$_step_name")")
  fi
  _step_name=""
}

# steps_summary TITLE: the time each step took, and the total.
steps_summary() {
  _step_close
  printf '\n==> %s: time per part (total %ss)\n' "$1" "$((SECONDS - _steps_t0))"
  printf '%s\n' "${_step_log[@]}"
}

# tools_venv: build/ci/tools, a venv with the build tools pinned by sha256 (.ci/requirements/tools.txt),
# made again whenever that file changes.
TOOLS=build/ci/tools
tools_venv() {
  local req=.ci/requirements/tools.txt
  if [[ -x $TOOLS/bin/python ]] && cmp -s "$req" "$TOOLS/requirements.txt"; then
    return 0
  fi
  rm -rf "$TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q --disable-pip-version-check --require-hashes --only-binary :all: -r "$req"
  cp "$req" "$TOOLS/requirements.txt"
}
