#!/usr/bin/env bash
# Run every test (core, plugins, contrib) on this machine, installing what is missing first.
# Usage: bash scripts/test.sh [pytest arguments...]     e.g. bash scripts/test.sh -k config -x
set -euo pipefail
# shellcheck source=scripts/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
otter_install test
cd "$OTTER_ROOT"

# With no paths given, pytest takes `testpaths` from pytest.ini: tests, plugins and contrib.
otter_say "python -m pytest -p no:cacheprovider $*"
set +e
"$OTTER_VENV/bin/python" -m pytest -p no:cacheprovider "$@" </dev/null
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
