#!/usr/bin/env bash
# The "Run the scenarios" step of action.yml: `xmpp-interop run` with the action's inputs
# (environment: TARGETS, SCENARIOS, EXPECTATIONS, OUT, ARGS; SCENARIOS and ARGS are split on
# spaces), its exit code written to $GITHUB_OUTPUT as `exit-code`. It exits 0 itself so that the
# reports are uploaded before the action's last step fails with that code.
set -uo pipefail

command=(xmpp-interop run)
# Word splitting is wanted: several paths, several options.
# shellcheck disable=SC2206
scenarios=(${SCENARIOS:-})
# shellcheck disable=SC2206
args=(${ARGS:-})
command+=("${scenarios[@]}")
if [ -n "${TARGETS:-}" ]; then
    command+=(--targets "$TARGETS")
fi
if [ -n "${EXPECTATIONS:-}" ]; then
    command+=(--expectations "$EXPECTATIONS")
fi
command+=(--out "${OUT:-xmpp-interop-reports}" --no-progress "${args[@]}")

echo "+ ${command[*]}"
"${command[@]}"
code=$?
echo "exit-code=$code" >> "${GITHUB_OUTPUT:-/dev/null}"
echo "xmpp-interop run exited $code"
exit 0
