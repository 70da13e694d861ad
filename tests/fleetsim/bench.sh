#!/usr/bin/env bash
# `make bench`: rdsguard audit against the fleet simulator, judged against the generator's truth.
#
# Builds rdsguard and fleetsim in release (skip with BENCH_NO_BUILD=1), writes the rules and the
# expected verdicts from the generator (per source too, from the simulator), starts the simulator on 127.0.0.1, runs one audit under
# /usr/bin/time -v, and prints the checks then, last, the `bench audit:` line.
#
# Knobs (environment): BENCH_ACCOUNTS (1000) BENCH_REGIONS (4) BENCH_SOURCES (20000) BENCH_SEED (1)
# BENCH_LATENCY_MS (40) BENCH_SIM_ARGS (extra fleetsim flags, e.g. "--no-throttle")
# BENCH_RDSGUARD_ARGS (extra audit flags, e.g. "--account-rds-rate 200000000001=390") BENCH_OUT (run folder)
# BENCH_TIMEOUT_S (3600: the audit is stopped after this) BENCH_STRICT=1 (exit 1 on a missed target)
# BENCH_DRILL=1 (the staging rule asks for restore drills: the audit reads their evidence too)
# BENCH_RDSGUARD (the rdsguard binary to measure; default $CARGO_TARGET_DIR/release/rdsguard, where
# CARGO_TARGET_DIR defaults to target/, as for cargo itself).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
# Where cargo builds: CARGO_TARGET_DIR (relative to the repository, as cargo takes it), else target/.
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
ACCOUNTS=${BENCH_ACCOUNTS:-1000}
REGIONS=${BENCH_REGIONS:-4}
SOURCES=${BENCH_SOURCES:-20000}
SEED=${BENCH_SEED:-1}
LATENCY=${BENCH_LATENCY_MS:-40}
TIMEOUT=${BENCH_TIMEOUT_S:-3600}
AS_OF=2026-06-01T06:00:00Z
OUT=${BENCH_OUT:-$TARGET/bench/$(date -u +%Y%m%dT%H%M%SZ)-a$ACCOUNTS}
FLEET=(--accounts "$ACCOUNTS" --regions "$REGIONS" --sources "$SOURCES" --seed "$SEED" --as-of "$AS_OF")
if [ "${BENCH_DRILL:-0}" = 1 ]; then FLEET+=(--drill); fi

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    echo "bench: cargo build --release -p rdsguard -p fleetsim" >&2
    cargo build --release --quiet -p rdsguard -p fleetsim
fi
RDSGUARD=${BENCH_RDSGUARD:-$TARGET/release/rdsguard}
FLEETSIM=$TARGET/release/fleetsim

mkdir -p "$OUT"
rm -f "$OUT/addr"  # a reused run folder's address would point at a simulator that has exited
"$FLEETSIM" rules "${FLEET[@]}" > "$OUT/rules.toml"
"$FLEETSIM" expected "${FLEET[@]}" > "$OUT/expected.json"

# shellcheck disable=SC2086
"$FLEETSIM" serve "${FLEET[@]}" --latency-ms "$LATENCY" --port 0 ${BENCH_SIM_ARGS:-} \
    --addr-file "$OUT/addr" --counts-out "$OUT/counts-at-exit.json" --max-runtime-s $((TIMEOUT + 600)) \
    > "$OUT/fleetsim.out" 2> "$OUT/fleetsim.err" &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    [ -s "$OUT/addr" ] && break
    sleep 0.1
done
[ -s "$OUT/addr" ] || { echo "bench: the simulator did not start: $(cat "$OUT/fleetsim.err")" >&2; exit 1; }
ENDPOINT=$(cat "$OUT/addr")
echo "bench: $(head -1 "$OUT/fleetsim.err") at $ENDPOINT; run folder $OUT" >&2

# The simulator takes the account from the access key: these long-term keys are the management
# account's. Nothing else of the caller's AWS setup may leak in.
set +e
env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_DEFAULT_PROFILE \
    AWS_ENDPOINT_URL="$ENDPOINT" AWS_ACCESS_KEY_ID=AKIAFLEETSIMBENCH AWS_SECRET_ACCESS_KEY=fleetsim \
    AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    /usr/bin/time -v -o "$OUT/time.txt" timeout "$TIMEOUT" \
    "$RDSGUARD" -q audit --rules "$OUT/rules.toml" --out "$OUT/run" --as-of "$AS_OF" --fail-on none \
    ${BENCH_RDSGUARD_ARGS:-} > "$OUT/audit.out" 2> "$OUT/audit.err"
RC=$?
set -e
curl -s "$ENDPOINT/fleetsim/counts" > "$OUT/counts.json"
curl -s "$ENDPOINT/fleetsim/expected-sources" > "$OUT/expected-sources.tsv"
curl -s -X POST "$ENDPOINT/fleetsim/shutdown" > /dev/null || true
wait "$SIM_PID" 2>/dev/null || true
trap - EXIT
if [ "$RC" -ne 0 ] && [ "$RC" -ne 3 ]; then
    echo "bench: rdsguard audit exited $RC; stderr:" >&2
    tail -20 "$OUT/audit.err" >&2
fi
python3 "$ROOT/tests/fleetsim/bench_report.py" "$OUT/expected.json" "$OUT/run/findings.json" \
    "$OUT/counts.json" "$OUT/time.txt" "$RC"
