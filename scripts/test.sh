#!/usr/bin/env bash
# `npm test`: the type check of the whole tree and every Jest project (PostgreSQL and PGlite)
# at the same time. Jest transpiles without type-checking; tsc checks what it skips, and runs
# beside the tests because both cores are rarely busy with Jest alone at the start of a run.
# The type check also leaves the build current (scripts/run-built.js --typecheck): the test
# that launches `npm run cli` from dist/, and a bench run after the tests, need no second tsc.
# Arguments go to Jest (`npm test -- test/e2e/orgs.e2e-spec.ts`); TEST_PROJECTS=pglite picks a project.
set -uo pipefail
cd "$(dirname "$0")/.."

npm run --silent typecheck &
typecheck=$!
npm run --silent jest -- "$@"
tests=$?
wait "$typecheck"
types=$?

if [ "$types" -ne 0 ]; then echo "npm test: the type check failed (exit $types)" >&2; fi
if [ "$tests" -ne 0 ]; then echo "npm test: Jest failed (exit $tests)" >&2; fi
[ "$types" -eq 0 ] && [ "$tests" -eq 0 ]
