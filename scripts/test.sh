#!/usr/bin/env bash
# The whole suite, as `make test` runs it: the browser tests (tests/browser, mostly waiting on
# Chromium) and a few long files in a second pytest process beside the rest, each on a database
# of its own, so that the two cores stay busy. Arguments, if any, go to one plain pytest run instead.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest -q "$@"
fi
db=${CARTAGORA_TEST_DB:-cartagora_test}
# the second process: the browser tests, the few long API files (the importer's bulk paths,
# the migrations round trip) and half of the schemathesis run; the first runs the rest and the
# other half (CONTRACT_SHARD, tests/test_contract_fuzz.py): 11 and 19 min on a slow day before
second=(tests/browser tests/test_import.py tests/test_migrations.py)
fuzz=tests/test_contract_fuzz.py
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
started=$(date +%s)
CARTAGORA_TEST_DB=${db}_browser CONTRACT_SHARD=1/2 .venv/bin/python -m pytest -q -p no:cacheprovider \
    "${second[@]}" "$fuzz" > "$out/browser.log" 2>&1 &
browser=$!
CONTRACT_SHARD=0/2 .venv/bin/python -m pytest -q "${second[@]/#/--ignore=}"
rest=$?
wait "$browser"
browser_rc=$?
echo "---- ${second[*]} $fuzz (half) (run beside the rest) ----"
cat "$out/browser.log"
echo "---- the whole suite: $(( $(date +%s) - started )) s; rest exit $rest, browser exit $browser_rc ----"
[ "$rest" -eq 0 ] && [ "$browser_rc" -eq 0 ]
