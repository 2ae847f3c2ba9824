#!/usr/bin/env bash
# A new user's first hour, proved: clone this repository's HEAD into an empty folder, make a new virtual
# environment, run the README's two commands (install; start the app and check it answers and serves the
# Diagnose page), then the README's lint and test commands. .ci/run calls this, so the README cannot drift from CI.
# Only the committed HEAD is tested: uncommitted changes are not in the clone.
set -euo pipefail

source_root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(dirname "$source_root")/shared"
work="$(mktemp -d "${TMPDIR:-/tmp}/fresh_install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The tests read the dataset from ../shared beside the project, as in the original checkout.
if [ ! -d "$shared" ]; then
    echo "warning: $shared does not exist; the tests that need the dataset will fail" >&2
fi
ln -s "$shared" "$work/shared"
clone="$work/$(basename "$source_root")"
git clone --quiet --no-checkout "$source_root" "$clone"
git -C "$clone" checkout --quiet --detach "$(git -C "$source_root" rev-parse HEAD)"
cd "$clone"
echo "fresh install of $(git rev-parse --short HEAD) in $clone"

python3 -m venv .venv
# shellcheck disable=SC1091
source .venv/bin/activate

# README, "Set up and run".
pip install --quiet --disable-pip-version-check -r requirements.txt
PYTHONPATH=. python .ci/smoke_serve.py

# README, "Test": the linter first (rules in pyproject.toml), then the whole suite.
ruff check .
set +e
pytest
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"
