#!/usr/bin/env bash
# The style gate: ruff lint, ruff format check and mypy, each over the whole repo as configured in ruff.toml
# and mypy.ini. Exits non-zero on any finding. Usage: bash scripts/lint.sh
# Installs the project and its test extra (scripts/install.sh), which pins the tools, when missing.
set -euo pipefail
# shellcheck source=scripts/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"

# The gate's tools (ruff, mypy and the stub packages that give mypy the types of PyYAML, PyMySQL, grpcio
# and protobuf) are in otter-core's `test` extra at exact versions, locked in constraints.txt: the same
# install as the tests'.
otter_install test
cd "$OTTER_ROOT"

status=0
otter_say "ruff check ."
"$OTTER_VENV/bin/ruff" check . || status=1
otter_say "ruff format --check ."
"$OTTER_VENV/bin/ruff" format --check . || status=1
otter_say "mypy (mypy.ini: otter_core, plugins, contrib)"
"$OTTER_VENV/bin/mypy" --python-executable "$OTTER_VENV/bin/python" || status=1
if [ "$status" -ne 0 ]; then
    echo "lint.sh: the style gate failed (see above); 'ruff format .' fixes the formatting" >&2
fi
exit "$status"
