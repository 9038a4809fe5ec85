#!/usr/bin/env bash
# See otter for Python sync two throwaway MariaDB servers, installing what is missing first.
# Usage: bash scripts/demo.sh [--rows N] [--seconds S] [--keep]
set -euo pipefail
# shellcheck source=scripts/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
otter_install
exec "$OTTER_VENV/bin/otter-run" --log-level WARNING demo "$@"
