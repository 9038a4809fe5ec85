#!/usr/bin/env bash
# Refresh constraints.txt, the lock of every third-party package the repo installs, from the packages'
# own ranges (setup.cfg files) and scripts/lock.in. Run it after changing a dependency range, then run the
# tests and commit both files:     bash scripts/lock.sh
# It resolves with uv for CPython 3.11 on x86-64 Linux (Debian 12's python3), whatever machine it runs on.
# uv: from PATH, else installed (at the locked version) into the project's virtualenv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

uv="$(command -v uv || true)"
if [ -z "$uv" ]; then
    venv="${OTTER_VENV:-$root/.venv}"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    [ -x "$venv/bin/uv" ] || "$venv/bin/python" -m pip install -q -c constraints.txt uv </dev/null
    uv="$venv/bin/uv"
fi

local_packages=(otter-core otter-dynamic otter-grpc otter-manager otter-mysql otter-oracle otter-zookeeper
                otter-files-example otter-mask otter-postgresql otter-redis otter-route)
no_emit=()
for name in "${local_packages[@]}"; do
    no_emit+=(--no-emit-package "$name")
done

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
{
    echo "# The lock of every third-party package otter for Python installs (tests, manager, build tools),"
    echo "# for CPython 3.11 on x86-64 Linux: Debian 12's python3. The repo's own packages are not in it."
    echo "# Used as pip constraints by scripts/install.sh (and so by scripts/test.sh, scripts/demo.sh, CI)."
    echo "# Generated from scripts/lock.in and the packages' setup.cfg ranges; do not edit by hand:"
    echo "#     bash scripts/lock.sh"
    "$uv" pip compile --quiet --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
        --no-header --annotation-style line "${no_emit[@]}" scripts/lock.in
} >"$tmp"
mv "$tmp" constraints.txt
trap - EXIT
echo "wrote constraints.txt ($(grep -c '==' constraints.txt) pinned packages)"
