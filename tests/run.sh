#!/usr/bin/env bash
# The project's test command: bootstrap, lint, then the whole pytest suite.
# Extra arguments go to pytest (e.g. `bash tests/run.sh tests/core -x`, or `-n 0` for serial).
# Component logs of every test stay under tests/artifacts/pytest-tmp/ (wiped by the next run);
# screenshots go to tests/artifacts/.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1

bash tests/bootstrap.sh || exit 1

echo "run.sh: ruff check ssomw tests"
.venv/bin/ruff check ssomw tests || exit 1

mkdir -p tests/artifacts
# Every test uses free ports and its own temp dirs, so two workers (the machine has two cores)
# are safe; --dist loadfile keeps a module's tests, and its module-scoped stack, on one worker.
.venv/bin/python -m pytest -q -n "${SSOMW_TEST_WORKERS:-2}" --dist loadfile \
    --basetemp="$REPO/tests/artifacts/pytest-tmp" "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "run.sh: pytest collected no tests: failing" >&2
    status=1
fi
exit "$status"
