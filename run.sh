#!/usr/bin/env bash
# One entry point for a fresh machine: each command installs what it needs
# into ./.venv (once, and again when requirements.txt or pyproject.toml changes), then runs.
#   bash run.sh demo   the main job
#   bash run.sh test   the test suite
set -euo pipefail
cd "$(dirname "$0")"

venv=.venv
stamp=$venv/.install-stamp
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
    # the project itself, editable: `import restore` and `python restore/train.py` work from anywhere
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
fi
py=$venv/bin/python

# The app's browser test drives Debian's chromium (Playwright never downloads a browser).
ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "run.sh: installing Debian's chromium for the browser test" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
            >/dev/null || echo "run.sh: chromium could not be installed; the browser test will be skipped" >&2
    else
        echo "run.sh: /usr/bin/chromium not found (apt-get install chromium as root); the browser test will be skipped" >&2
    fi
}

case "${1:-}" in
    demo) shift; exec "$py" -m restore.demo "$@" ;;
    test) shift; ensure_chromium; exec "$py" -m pytest "$@" ;;
    *) echo "usage: bash run.sh demo|test [args...]" >&2; exit 2 ;;
esac
