#!/usr/bin/env bash
# Run the unit and compat suites on each Python version headwater supports (3.10 to 3.13), one
# version at a time (the suites are heavy: on 2 cores, running them side by side slows both).
#
# usage: tools/python_matrix.sh [VERSION ...]          e.g. tools/python_matrix.sh 3.10 3.13
#
# For each version it finds an interpreter (pyenv's newest X.Y.*, else `pythonX.Y` on PATH),
# makes or reuses the venv $HEADWATER_MATRIX_VENVS/pyXY (default ./.venvs/pyXY) with an editable
# install of this checkout and its test extras, then runs
#   python -m pytest -q -p no:cacheprovider tests/unit tests/compat --timeout 600
# HEADWATER_MATRIX_TESTS replaces the test paths (e.g. tests/unit/test_profiles.py for a quick look).
# A version without an interpreter is reported as missing, not skipped silently. Exits non-zero
# when any version is missing or fails. CI (.ci/run) runs one version; this is the wider check.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venvs=${HEADWATER_MATRIX_VENVS:-$root/.venvs}
read -ra tests <<< "${HEADWATER_MATRIX_TESTS:-tests/unit tests/compat}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.11 3.12 3.13)
export PIP_DISABLE_PIP_VERSION_CHECK=1

find_python() {  # $1 = X.Y -> path of a working interpreter of that version, or nothing
    local v=$1 candidate
    local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
    # pyenv's own builds first (its shims on PATH fail for versions not selected), then PATH
    for candidate in $(ls -d "$pyenv_root"/versions/"$v".*/bin/python3 2>/dev/null | sort -rV) \
                     $(command -v "python$v" 2>/dev/null); do
        if [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
            echo "$candidate"
            return
        fi
    done
}

declare -A outcome
status=0
for v in "${versions[@]}"; do
    python=$(find_python "$v")
    if [ -z "$python" ]; then
        outcome[$v]="missing (no python$v on PATH nor in pyenv)"
        status=1
        continue
    fi
    venv=$venvs/py${v/./}
    echo "=== Python $v ($python) -> $venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" || { outcome[$v]="venv failed"; status=1; continue; }
    fi
    if ! "$venv/bin/python" -m pip install -q -e "$root[test]" pytest-timeout; then
        outcome[$v]="install failed"
        status=1
        continue
    fi
    if "$venv/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" --timeout 600; then
        outcome[$v]="passed"
    else
        outcome[$v]="FAILED"
        status=1
    fi
done

echo "=== summary"
for v in "${versions[@]}"; do
    echo "Python $v: ${outcome[$v]}"
done
exit $status
