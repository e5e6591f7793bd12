#!/usr/bin/env bash
# Acceptance: unmodified real clients against `protector sim serve`.
#
#   python-openstackclient and openstacksdk (pinned, from PyPI) with DIR/clouds.yaml, and
#   py-pure-client's pypureclient.flasharray.Client with DIR/arrays.json, against a simulator
#   served from a fresh temporary DIR; then a drill on a network made with `openstack network
#   create` / `openstack subnet create` (drill.py, the protector binary over the wire); then a
#   restart on the same DIR must keep the state.
#
# Every check prints PASS or FAIL; the last line is "N passed, M failed" and the exit status is
# non-zero when anything failed. The server is always stopped.
#
# The clients live in a venv at TARGET/acceptance-venv (TARGET: the directory cargo builds
# into, `target/` unless CARGO_TARGET_DIR or the cargo config says otherwise), rebuilt only when requirements.txt,
# constraints.txt or the Python version change. py-pure-client ships only as a 16 MB sdist that
# unpacks to ~800 MB (every FlashArray REST version); installing it with --no-compile skips
# byte-compiling all of that up front (Python compiles the few modules it imports on first use),
# which is most of its install time.
#
# Environment: PYTHON (default python3, >= 3.8), ACCEPTANCE_DEBUG=1 for tracebacks,
# PROTECTOR_BIN: the protector executable to serve (scripts/test-all passes the one its cargo
# test built; by default it is built here).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/scripts/acceptance
PYTHON=${PYTHON:-python3}

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS  $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/protector-acceptance.XXXXXX")
SIM=$WORK/sim
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------ clients
if ! VENV=$("$ROOT/scripts/acceptance/venv"); then
    echo "FAIL  setup: pip install of scripts/acceptance/requirements.txt"
    echo "0 passed, 1 failed"
    exit 1
fi
PY=$VENV/bin/python
OPENSTACK=$VENV/bin/openstack

# ------------------------------------------------------------------------------ server
if [ -n "${PROTECTOR_BIN:-}" ]; then
    BIN=$PROTECTOR_BIN
    if [ -x "$BIN" ]; then
        echo "==> protector: $BIN"
    else
        echo "FAIL  setup: PROTECTOR_BIN=$BIN is not an executable"
        echo "0 passed, 1 failed"
        exit 1
    fi
else
    echo "==> building protector"
    started=$SECONDS
    # The executable where cargo put it (the target directory, the profile, a target triple).
    find_bin='import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "protector" and m.get("executable"):
        print(m["executable"])'
    if ! BIN=$(cargo build --quiet --locked -p protector-cli --bin protector \
        --message-format=json-render-diagnostics 2>"$WORK/build.log" | "$PYTHON" -c "$find_bin") ||
        [ ! -x "$BIN" ]; then
        tail -30 "$WORK/build.log"
        echo "FAIL  setup: cargo build"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "    built in $((SECONDS - started)) s: $BIN"
fi

# Starts `protector sim serve --dir $SIM` and waits for its `ready` line.
start_server() {
    local fifo=$WORK/ready.$1 line=
    mkfifo "$fifo"
    "$BIN" sim serve --dir "$SIM" >"$fifo" 2>>"$WORK/serve.log" &
    SERVER_PID=$!
    exec 3<"$fifo"
    if read -r -t 120 -u 3 line && [ "$line" = ready ]; then
        pass "server: protector sim serve prints ready ($1)"
        return 0
    fi
    fail "server: no ready line ($1); its stderr:"
    sed 's/^/      /' "$WORK/serve.log" | tail -20
    return 1
}

# Stops the server with SIGTERM; it must exit 0.
stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID"
    local rc=$?
    SERVER_PID=
    exec 3<&-
    if [ "$rc" -eq 0 ]; then
        pass "server: stops cleanly on SIGTERM ($1)"
    else
        fail "server: exited $rc on SIGTERM ($1)"
    fi
}

# Runs one client script; counts its PASS/FAIL lines, and a crash as one more failure.
run_suite() {
    local name=$1 out=$WORK/$1.out
    shift
    echo "==> $name"
    local started=$SECONDS
    "$PY" "$@" "$SIM" 2>"$WORK/$name.err" | tee "$out"
    local rc=${PIPESTATUS[0]}
    echo "    ($name: $((SECONDS - started)) s)"
    local p f
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$name: crashed (exit $rc):"
        tail -20 "$WORK/$name.err" | sed 's/^/      /'
    elif [ -n "${ACCEPTANCE_DEBUG:-}" ]; then
        cat "$WORK/$name.err"
    fi
}

# Only the simulator's clouds.yaml: no OS_* variable or user config may leak in.
for var in $(env | grep -o '^OS_[A-Za-z_]*'); do unset "$var"; done
mkdir -p "$WORK/home"
export HOME=$WORK/home
export OS_CLIENT_CONFIG_FILE=$SIM/clouds.yaml
# The simulator is on loopback: never through a proxy, whatever the environment says.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
# Bytecode goes with the venv, not next to the scripts.
export PYTHONWARNINGS=ignore PYTHONPYCACHEPREFIX=$VENV/pycache PROTECTOR_BIN=$BIN
cd "$WORK"

if start_server "fresh DIR"; then
    for file in clouds.yaml arrays.json; do
        if [ -s "$SIM/$file" ]; then pass "server: wrote $file"; else fail "server: no $file"; fi
    done
    run_suite "openstack-cli" "$HERE/osc_checks.py"
    run_suite "openstacksdk" "$HERE/sdk_client.py"
    run_suite "py-pure-client" "$HERE/pure_client.py"
    # Last: it leaves a protection group replicating on the arrays.
    run_suite "drill" "$HERE/drill.py"

    # A restart on the same DIR resumes the state.
    persisted=
    if "$OPENSTACK" --os-cloud site-a volume create --size 1 acc-persist >/dev/null 2>"$WORK/persist.err"; then
        persisted=yes
    fi
    stop_server "first run"
    if start_server "restart on the same DIR"; then
        if [ -n "$persisted" ] &&
            "$OPENSTACK" --os-cloud site-a volume show acc-persist -f value -c name 2>>"$WORK/persist.err" |
            grep -qx acc-persist; then
            pass "restart: a volume created before the restart is still there"
        else
            fail "restart: volume acc-persist lost:"
            sed 's/^/      /' "$WORK/persist.err" | tail -5
        fi
        "$OPENSTACK" --os-cloud site-a volume delete acc-persist >/dev/null 2>&1
        stop_server "after restart"
    fi
fi

summary
