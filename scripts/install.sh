# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/demo.sh: installs what otter for Python needs on Debian 12
# (MariaDB, Python 3 with venv and pip: with apt-get, only what is missing) and the project itself into
# the virtualenv .venv at the repo root. Sets OTTER_ROOT and OTTER_VENV.
#
# The project is installed as users install it: an sdist and a wheel of every package are built (into
# .venv/otter-dists/, only for packages whose files changed) and the wheels installed, non-editable.
# Every third-party package, and the build tools, come at the versions locked in constraints.txt
# (refresh: bash scripts/lock.sh).
#
#   OTTER_EDITABLE=1                install the packages editable instead (for development: no rebuild
#                                   after a change; the tests then import the source tree)
#   OTTER_PYTHON=/path/to/python3   use this interpreter for the virtualenv (default: python3 on PATH,
#                                   else /usr/bin/python3; it must be 3.10 or newer)
#   OTTER_VENV=/path/to/venv        use this virtualenv instead of .venv

OTTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OTTER_VENV="${OTTER_VENV:-$OTTER_ROOT/.venv}"
OTTER_CONSTRAINTS="$OTTER_ROOT/constraints.txt"
OTTER_APT_PACKAGES=(mariadb-server mariadb-client python3 python3-venv python3-pip
                    gcc python3-dev)  # gcc + headers: otter-mysql builds its C extension (else slower Python)
# What the tests need beyond the demo: real ZooKeeper (Java), PostgreSQL 15, Redis, headless Chromium for
# the manager's browser tests, and iproute2 (network namespaces, tc netem) for the cross-data-centre tests.
OTTER_TEST_APT_PACKAGES=(zookeeper default-jre-headless postgresql-15 postgresql-client-15 redis-server
                         chromium chromium-driver iproute2)

otter_say() { printf '==> %s\n' "$*" >&2; }
otter_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when root, else through sudo.
otter_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        otter_die "need root (or sudo) to run: $*"
    fi
}

# otter_apt_install [test]: the demo's packages, and with "test" the test servers' too.
otter_apt_install() {
    local wanted=("${OTTER_APT_PACKAGES[@]}")
    [ "${1:-}" = test ] && wanted+=("${OTTER_TEST_APT_PACKAGES[@]}")
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        otter_say "no apt-get here (not Debian/Ubuntu): install MariaDB server+client and Python 3.10+ with venv yourself"
        return 0
    fi
    local missing=() pkg
    for pkg in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    otter_say "installing with apt-get: ${missing[*]}"
    otter_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # The mariadb-server package may start (or fail to start) its own service: harmless, the tests and
    # the demo start their own throwaway servers on free ports.
    otter_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
        </dev/null
}

# Print the interpreter to build the virtualenv with: 3.10+ with working venv and ensurepip.
otter_pick_python() {
    local candidate
    for candidate in "${OTTER_PYTHON:-}" python3 /usr/bin/python3 python; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    otter_die "no Python 3.10+ with the venv module found (Debian: apt-get install python3 python3-venv)"
}

otter_make_venv() {
    if [ -x "$OTTER_VENV/bin/python" ] && "$OTTER_VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
        return 0
    fi
    local python
    python="$(otter_pick_python)"
    if [ -e "$OTTER_VENV" ]; then
        otter_say "the virtualenv $OTTER_VENV is broken: making it again"
        rm -rf "$OTTER_VENV"
    fi
    otter_say "creating the virtualenv $OTTER_VENV with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$OTTER_VENV"
}

# Every installable package of the repo: the core, then each plugin and contrib package.
otter_packages() {
    local dir
    printf '%s\n' "$OTTER_ROOT"
    for dir in "$OTTER_ROOT"/plugins/*/ "$OTTER_ROOT"/contrib/*/; do
        [ -d "$dir" ] || continue
        if [ -f "$dir/setup.py" ] || [ -f "$dir/setup.cfg" ] || [ -f "$dir/pyproject.toml" ]; then
            printf '%s\n' "${dir%/}"
        fi
    done
}

# The files a package's wheel is built from (not its tests, which are not in the wheel): their names and
# contents, hashed, decide whether the wheel must be built again.
otter_package_digest() {
    local dir="$1" parts=() part
    if [ "$dir" = "$OTTER_ROOT" ]; then
        for part in otter_core setup.cfg setup.py MANIFEST.in README.md CHANGELOG.md; do
            [ -e "$dir/$part" ] && parts+=("$part")
        done
    else
        parts=(.)
    fi
    (cd "$dir" && find "${parts[@]}" \( -name build -o -name dist -o -name tests -o -name '*.egg-info' \
            -o -name __pycache__ -o -name .pytest_cache \) -prune -o -type f ! -name '*.so' -print0 2>/dev/null \
        | sort -z | xargs -0 -r sha1sum | sha1sum | cut -d' ' -f1)
}

# A package's distribution name, from its setup.cfg.
otter_package_name() {
    sed -n 's/^name *= *//p' "$1/setup.cfg" | head -n1
}

# The build tools (setuptools, wheel, build, twine) at their locked versions: the builds below run
# without isolation, so nothing of a build floats either.
otter_build_tools() {
    "$OTTER_VENV/bin/python" -m pip install -q -c "$OTTER_CONSTRAINTS" setuptools wheel build twine </dev/null
}

# otter_build_dists DIR OUTDIR: sdist, then the wheel built from that sdist (what a user of the sdist gets).
otter_build_dists() {
    rm -rf "$2" && mkdir -p "$2"
    "$OTTER_VENV/bin/python" -m build --no-isolation --outdir "$2" "$1" >"$2/build.log" 2>&1 \
        || { cat "$2/build.log" >&2; otter_die "building the distributions of $1 failed (log above)"; }
}

# Install what users install: a wheel of every package, built from its sdist, into the virtualenv,
# dependencies at their locked versions. Only packages whose files changed are built again.
otter_install_wheels() {
    local packages=() wheels=() changed=() dir name digest out stamp want
    mapfile -t packages < <(otter_packages)
    want="wheels $(sha1sum "$OTTER_CONSTRAINTS" | cut -d' ' -f1)"
    for dir in "${packages[@]}"; do
        want+=" $(otter_package_digest "$dir")"
    done
    stamp="$OTTER_VENV/.otter-installed"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    otter_build_tools
    local digests=()
    for dir in "${packages[@]}"; do
        name="$(otter_package_name "$dir")"
        out="$OTTER_VENV/otter-dists/$name"
        digest="$(otter_package_digest "$dir")"
        if [ "$(cat "$out/.built" 2>/dev/null)" != "$digest" ] || ! ls "$out"/*.whl >/dev/null 2>&1; then
            otter_say "building $name (sdist, then its wheel)"
            otter_build_dists "$dir" "$out"
            printf '%s' "$digest" >"$out/.built"
        fi
        # Installed from an older build (or never): pip keeps an installed distribution of the same
        # version, so it must go first.
        if [ "$(cat "$out/.installed" 2>/dev/null)" != "$digest" ]; then
            changed+=("$name")
        fi
        wheels+=("$(ls "$out"/*.whl)")
        digests+=("$digest")
    done
    wheels[0]="${wheels[0]}[test]"
    if [ "${#changed[@]}" -gt 0 ]; then
        "$OTTER_VENV/bin/python" -m pip uninstall -q -y "${changed[@]}" </dev/null >/dev/null 2>&1 || true
    fi
    otter_say "installing into $OTTER_VENV: the wheels of ${#packages[@]} packages (otter-core[test])"
    "$OTTER_VENV/bin/python" -m pip install -q -c "$OTTER_CONSTRAINTS" "${wheels[@]}" </dev/null
    local i
    for i in "${!packages[@]}"; do
        printf '%s' "${digests[$i]}" >"$OTTER_VENV/otter-dists/$(otter_package_name "${packages[$i]}")/.installed"
    done
    printf '%s' "$want" >"$stamp"
}

# OTTER_EDITABLE=1: the packages installed editable (source changes take effect without a reinstall).
otter_install_editable() {
    local packages=() args=() dir stamp want
    mapfile -t packages < <(otter_packages)
    # Skip pip when nothing about the packages' metadata changed since the last install.
    want="editable $(sha1sum "$OTTER_CONSTRAINTS" | cut -d' ' -f1) $(for dir in "${packages[@]}"; do
                echo "$dir"
                cat "$dir"/setup.py "$dir"/setup.cfg "$dir"/pyproject.toml 2>/dev/null || true
                find "$dir" -path "$dir/build" -prune -o \( -name '*.c' -o -name '*.h' \) -type f -print0 2>/dev/null \
                    | sort -z | xargs -0 -r cat  # C extensions are built at install time
            done | cksum)"
    stamp="$OTTER_VENV/.otter-installed"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    otter_build_tools
    args=(-e "${packages[0]}[test]")
    for dir in "${packages[@]:1}"; do
        args+=(-e "$dir")
    done
    rm -rf "$OTTER_VENV/otter-dists"  # a later wheel install must build and install every package again
    otter_say "installing into $OTTER_VENV, editable: otter-core[test] and ${#packages[@]} package(s) in all"
    "$OTTER_VENV/bin/python" -m pip install -q -c "$OTTER_CONSTRAINTS" --no-build-isolation "${args[@]}" </dev/null
    printf '%s' "$want" >"$stamp"
    otter_compile_bytecode
}

otter_pip_install() {
    # Every pip run, including any build environment pip makes itself, takes the locked versions.
    export PIP_CONSTRAINT="$OTTER_CONSTRAINTS"
    if [ "${OTTER_EDITABLE:-0}" = 1 ]; then
        otter_install_editable
    else
        otter_install_wheels
    fi
}

# otter_install [test]: everything the demo needs; with "test", what the tests need as well.
otter_install() {
    otter_apt_install "${1:-}"
    otter_make_venv
    otter_pip_install
}

# Editable installs leave the project's modules uncompiled, and with PYTHONDONTWRITEBYTECODE set Python
# compiles them again in every process (~0.12 s per otter-run and per selector process, measured); a
# pip-installed otter has them compiled at install time. compileall only rewrites stale files.
otter_compile_bytecode() {
    "$OTTER_VENV/bin/python" -m compileall -q -j 0 "$OTTER_ROOT/otter_core" "$OTTER_ROOT/plugins" \
        "$OTTER_ROOT/contrib" >/dev/null || otter_say "could not compile the modules' bytecode (processes only start slower)"
}
