#!/usr/bin/env bash
# The whole suite, as `make test` runs it: the browser tests (tests/browser, mostly waiting on
# Chromium) in a second pytest process beside the rest, each on a database of its own, so that
# the two cores stay busy. Arguments, if any, go to one plain pytest run instead.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest -q "$@"
fi
db=${CARTAGORA_TEST_DB:-cartagora_test}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
started=$(date +%s)
CARTAGORA_TEST_DB=${db}_browser .venv/bin/python -m pytest -q -p no:cacheprovider tests/browser \
    > "$out/browser.log" 2>&1 &
browser=$!
.venv/bin/python -m pytest -q --ignore=tests/browser
rest=$?
wait "$browser"
browser_rc=$?
echo "---- tests/browser (run beside the rest) ----"
cat "$out/browser.log"
echo "---- the whole suite: $(( $(date +%s) - started )) s; rest exit $rest, browser exit $browser_rc ----"
[ "$rest" -eq 0 ] && [ "$browser_rc" -eq 0 ]
