#!/usr/bin/env bash
# The style gate: ruff lint, ruff format check and mypy, each over the whole repo as configured in ruff.toml
# and mypy.ini. Exits non-zero on any finding. Usage: bash scripts/lint.sh
# Installs the project (scripts/install.sh) and the pinned tools below into the virtualenv when missing.
set -euo pipefail
# shellcheck source=scripts/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"

# The gate's tools, pinned so a new release cannot fail a clean tree; the stub packages give mypy the
# types of PyYAML, PyMySQL, grpcio and protobuf (modules without any are listed in mypy.ini).
OTTER_LINT_PACKAGES=(ruff==0.17.6 mypy==2.4.1 types-PyYAML==6.0.12.20261122 types-PyMySQL==1.2.0.20260923
                     types-grpcio==1.85.0.20261028 types-protobuf==7.35.1.20261122)

otter_install test
cd "$OTTER_ROOT"
# the pinned tools that are missing or at another version
missing="$("$OTTER_VENV/bin/python" - "${OTTER_LINT_PACKAGES[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        installed = version(name)
    except PackageNotFoundError:
        installed = None
    if installed != wanted:
        print(spec)
PY
)"
if [ -n "$missing" ]; then
    otter_say "installing the lint tools: $(echo $missing)"
    # shellcheck disable=SC2086  # one package per word
    "$OTTER_VENV/bin/python" -m pip install -q --disable-pip-version-check $missing </dev/null
fi

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
