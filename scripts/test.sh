#!/usr/bin/env bash
# Run every test (core, plugins, contrib) on this machine, installing what is missing first.
# Usage: bash scripts/test.sh [pytest arguments...]     e.g. bash scripts/test.sh -k config -x
# The tests run against the installed wheels (what users install; see scripts/install.sh): the root
# conftest.py keeps site-packages ahead of the source tree and stops the run if otter_core or a plugin
# was imported from the source. OTTER_EDITABLE=1 bash scripts/test.sh: against an editable install.
set -euo pipefail
# shellcheck source=scripts/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
otter_install test
cd "$OTTER_ROOT"
if [ "${OTTER_EDITABLE:-0}" = 1 ]; then
    export OTTER_TEST_INSTALL=editable
else
    export OTTER_TEST_INSTALL=wheels
    export PYTHONSAFEPATH=1  # python -m (here and in subprocesses) puts no working directory on sys.path
fi

# With no paths given, pytest takes `testpaths` from pytest.ini: tests, plugins and contrib.
otter_say "pytest -p no:cacheprovider $*"
set +e
# The pytest script, not `python -m pytest`: that would put the working directory (the source) first on
# sys.path before the installed packages are imported.
"$OTTER_VENV/bin/pytest" -p no:cacheprovider "$@" </dev/null
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
