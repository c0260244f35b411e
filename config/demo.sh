#!/usr/bin/env bash
# The offline demo: no API key, no network. It runs smithd with fake-claude — a SCRIPTED
# STAND-IN for the Claude CLI that speaks the same stream-json protocol — in a temporary
# directory, sends a fan-out request in which one worker crashes on its first attempt (so you
# see the restart), prints the status tree and the merged answer, and cleans up.
#
#   bash config/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bins --features stand-in
bin="$PWD/target/debug"
demo="$(mktemp -d -t smith-demo.XXXXXX)"
mkdir -p "$demo/work"
smithd_pid=""
cleanup() {
  if [ -n "$smithd_pid" ] && kill -0 "$smithd_pid" 2>/dev/null; then
    kill -TERM "$smithd_pid" 2>/dev/null || true
    wait "$smithd_pid" 2>/dev/null || true
  fi
  rm -rf "$demo"
}
trap cleanup EXIT

cat > "$demo/smith.toml" <<TOML
[service]
data_dir = "$demo/data"
socket = "$demo/run/smithd.sock"
log_format = "human"
log_level = "warn"

[agent]
# NOT the real Claude CLI: the scripted stand-in from tests/support/fake_claude.rs.
program = "$bin/fake-claude"
roots = ["$demo/work"]
env = { FAKE_CLAUDE_STATE_DIR = "$demo/work" }

[supervision]
backoff_min = "300ms"
backoff_max = "1s"
TOML

echo "== smith demo (offline: workers are fake-claude, a scripted stand-in for the claude CLI) =="
"$bin/smithd" --config "$demo/smith.toml" 2> "$demo/smithd.log" &
smithd_pid=$!
export SMITH_SOCKET="$demo/run/smithd.sock"
for _ in $(seq 1 100); do
  "$bin/smith" health >/dev/null 2>&1 && break
  sleep 0.05
done
"$bin/smith" health

cd "$demo/work"
echo
echo "== smith ask: three tasks; the second crashes on its first attempt =="
"$bin/smith" ask "Review the payment service" \
  --task "check the API handlers [[slow:300]]" \
  --task "check the database layer [[fail-first:db]] [[slow:300]]" \
  --task "check the tests [[slow:300]]" \
  --detach > "$demo/id"
id="$(cat "$demo/id")"
sleep 0.8
echo
echo "== smith status (while it runs) =="
"$bin/smith" status
echo
echo "== following $id =="
for _ in $(seq 1 200); do
  state="$("$bin/smith" show "$id" --json | sed -n 's/.*"status": "\([a-z]*\)".*/\1/p' | head -1)"
  [ "$state" != "running" ] && [ "$state" != "queued" ] && break
  sleep 0.1
done
"$bin/smith" show "$id"
echo
echo "== smith history main =="
"$bin/smith" history main
echo
echo "demo done: smithd stops, the temporary directory $demo is removed."
