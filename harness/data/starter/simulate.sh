#!/usr/bin/env bash
# Try the suites without API keys: start `llm-harness simulate --demo` (every provider on
# 127.0.0.1, each demo model with its own scripted quality, latency and price), point the
# SDKs at it, run the suites, stop it. Written by `llm-harness init`; arguments go to
# `llm-harness run`.
set -uo pipefail
out=$(mktemp)
llm-harness simulate --demo --port "${LLM_SIM_PORT:-0}" >"$out" &
sim=$!
trap 'kill "$sim" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q "Ctrl-C" "$out" && break; sleep 0.1; done
grep -q "Ctrl-C" "$out" || { cat "$out" >&2; echo "the simulator did not start" >&2; exit 2; }
eval "$(grep '^export ' "$out")"
llm-harness run "$@"
