#!/usr/bin/env bash
# Starts a real Keystone (from PyPI) on 127.0.0.1 for protector-openstack's keystone test.
#
#   protector-openstack/scripts/keystone.sh start DIR [PORT]   # prints the auth URL
#   protector-openstack/scripts/keystone.sh stop DIR
#
# Then: PROTECTOR_TEST_KEYSTONE=http://127.0.0.1:PORT/v3 cargo test -p protector-openstack --test it keystone
# The admin user is "admin" / "s3cret" in domain "default", project "admin", region RegionOne.
# Needs python3 with venv and pip; the first start installs keystone and gunicorn (~1 minute).
set -euo pipefail
cmd=${1:?start|stop}; D=${2:?directory}; PORT=${3:-5001}
mkdir -p "$D"; D=$(cd "$D" && pwd)
if [ "$cmd" = stop ]; then
  [ -f "$D/gunicorn.pid" ] && kill "$(cat "$D/gunicorn.pid")" && rm -f "$D/gunicorn.pid"
  exit 0
fi
if [ ! -x "$D/venv/bin/keystone-manage" ]; then
  python3 -m venv "$D/venv"
  "$D/venv/bin/pip" install -q --disable-pip-version-check keystone==30.0.0 gunicorn==23.0.0
fi
mkdir -p "$D/etc" "$D/fernet-keys" "$D/credential-keys"
cat > "$D/etc/keystone.conf" <<CONF
[DEFAULT]
log_file = $D/keystone.log
[database]
connection = sqlite:///$D/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $D/fernet-keys
[fernet_receipts]
key_repository = $D/fernet-keys
[credential]
key_repository = $D/credential-keys
CONF
KM="$D/venv/bin/keystone-manage --config-file $D/etc/keystone.conf"
if [ ! -f "$D/keystone.db" ]; then
  $KM db_sync
  $KM fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  $KM credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  $KM bootstrap --bootstrap-password s3cret --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "http://127.0.0.1:$PORT/v3/" \
    --bootstrap-internal-url "http://127.0.0.1:$PORT/v3/" \
    --bootstrap-public-url "http://127.0.0.1:$PORT/v3/"
fi
# oslo.config parses sys.argv: hide gunicorn's own arguments from it, or every worker dies.
cat > "$D/ks_wsgi.py" <<PY
import os, sys
os.environ.setdefault("OS_KEYSTONE_CONFIG_FILES", "$D/etc/keystone.conf")
_argv, sys.argv = sys.argv, sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402
sys.argv = _argv
PY
"$D/venv/bin/gunicorn" --chdir "$D" --bind "127.0.0.1:$PORT" --workers 1 \
  --pid "$D/gunicorn.pid" --daemon --log-file "$D/gunicorn.log" ks_wsgi:application
# Wait until Keystone answers (python, not curl: curl is not on every machine).
for _ in $(seq 1 150); do
  if "$D/venv/bin/python" - "$PORT" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v3", timeout=2)
PY
  then echo "http://127.0.0.1:$PORT/v3"; exit 0; fi
  sleep 0.2
done
echo "keystone did not start; see $D/gunicorn.log" >&2
exit 1
