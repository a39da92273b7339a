#!/usr/bin/env bash
# One entry point for a fresh machine: each command installs what it needs
# into ./.venv (once, and again when requirements.txt changes), then runs.
#   bash run.sh demo   the main job
#   bash run.sh test   the test suite
set -euo pipefail
cd "$(dirname "$0")"

venv=.venv
stamp=$venv/.install-stamp
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
    echo "$want" > "$stamp"
fi
py=$venv/bin/python

case "${1:-}" in
    demo) shift; exec "$py" -m restore.demo "$@" ;;
    test) shift; exec "$py" -m pytest "$@" ;;
    *) echo "usage: bash run.sh demo|test [args...]" >&2; exit 2 ;;
esac
