#!/usr/bin/env bash
# The Debian package as an administrator meets it: built with cpack, checked by lintian (no
# errors) and systemd-analyze verify, installed with dpkg -i, a master and a worker run from the
# installed files as the package's user (readiness told over NOTIFY_SOCKET, as systemd hears
# it), then purged. Needs root: it installs a package on this machine and removes it at the end.
# Exit 77: skipped, with the reason.
set -euo pipefail
build=$(cd "$1" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to install a package"
for tool in cpack dpkg lintian systemd-analyze python3; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
if dpkg-query -W -f='${Status}' zcluster 2>/dev/null | grep -q "ok installed"; then
  skip "a zcluster package is already installed here; not touching it"
fi

work=$(mktemp -d /tmp/zc-deb-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  dpkg --purge zcluster >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; for f in "$work"/*/logs/cluster.log; do [ -f "$f" ] && tail -20 "$f"; done; exit 1; }
# Polls a condition every 50 ms for at most $1 seconds.
wait_for() {
  local bound=$1; shift
  local deadline=$((SECONDS + bound))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

echo "== cpack"
(cd "$build" && cpack -G DEB -B "$work/pkg" >/dev/null)
deb=$(ls "$work"/pkg/zcluster_*.deb)
echo "== lintian $deb"
lintian --fail-on error "$deb" 2>&1 | grep -v "running with root privileges" || true
lintian --fail-on error "$deb" >/dev/null 2>&1 || fail "lintian reports errors"

echo "== dpkg -i"
dpkg -i "$deb" >/dev/null
for f in /usr/sbin/zclusterd /usr/bin/zcluster-control /usr/bin/zcluster-keygen \
         /usr/bin/zcluster-monitor /usr/share/man/man8/zclusterd.8.gz \
         /usr/share/doc/zcluster/SCHEMAS.md /etc/zcluster/ossec.conf /etc/logrotate.d/zcluster \
         /usr/lib/systemd/system/zclusterd.service; do
  [ -e "$f" ] || fail "$f is not installed"
done
getent passwd zcluster >/dev/null || fail "no zcluster user"
[ "$(stat -c %U /var/lib/zcluster)" = zcluster ] || fail "/var/lib/zcluster is not zcluster's"
echo "== systemd-analyze verify"
systemd-analyze verify /usr/lib/systemd/system/zclusterd.service || fail "the unit does not verify"
# The shipped config is disabled, as Wazuh's: the unit's own check passes and the daemon exits 0.
/usr/sbin/zclusterd -t -c /etc/zcluster/ossec.conf 2>&1 | grep -q "disabled" ||
  fail "the sample config is not a disabled cluster"

echo "== a master and a worker from the installed files"
install -d -o zcluster -g zcluster "$work/keys" "$work/keys/authorized" "$work/master" "$work/w1"
runuser -u zcluster -- zcluster-keygen "$work/keys/master" >/dev/null
runuser -u zcluster -- zcluster-keygen "$work/keys/w1" >/dev/null
cp "$work/keys/w1.pub" "$work/keys/authorized/w1.pub"
config() {  # name type port extra
  cat <<CONF
<ossec_config><cluster>
  <name>debtest</name><node_name>$1</node_name><node_type>$2</node_type>
  <port>$3</port><bind_addr>127.0.0.1</bind_addr><nodes><node>127.0.0.1</node></nodes>
  <home>$work/$1</home><agent_port>0</agent_port>
  <curve><secret_key>$work/keys/$1.key</secret_key><public_key>$work/keys/$1.pub</public_key>$4</curve>
  <intervals><keep_alive>0.5</keep_alive><max_allowed_time_without_keepalive>3</max_allowed_time_without_keepalive></intervals>
</cluster></ossec_config>
CONF
}
config master master 0 "<authorized_keys>$work/keys/authorized</authorized_keys>" >"$work/master.conf"
# The readiness message the daemon sends to systemd, read from a NOTIFY_SOCKET of our own.
python3 - "$work/notify.sock" "$work/notify.txt" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
open(sys.argv[2], "w").write(s.recv(4096).decode())
PY
listener=$!
wait_for 10 test -S "$work/notify.sock" || fail "no notify socket"
chmod 777 "$work/notify.sock"
NOTIFY_SOCKET="$work/notify.sock" /usr/sbin/zclusterd -f -u zcluster -c "$work/master.conf" \
  --ports-file "$work/master/ports.json" >"$work/master.out" 2>&1 &
pids+=($!)
master=$!
wait_for 30 test -s "$work/master/ports.json" || fail "the master did not bind its ports"
wait "$listener" || fail "no readiness message"
grep -q "READY=1" "$work/notify.txt" || fail "readiness message: $(cat "$work/notify.txt")"
[ "$(stat -c %U /proc/$master)" = zcluster ] || fail "the master does not run as zcluster"
port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$work/master/ports.json")
config w1 worker "$port" "<master_public_key>$work/keys/master.pub</master_public_key>" >"$work/w1.conf"
/usr/sbin/zclusterd -f -u zcluster -c "$work/w1.conf" >"$work/w1.out" 2>&1 &
pids+=($!)
listed() { zcluster-control -c "$work/master.conf" -l 2>/dev/null | grep -q w1; }
wait_for 30 listed || fail "the master does not list w1"
echo "== purge"
for pid in "${pids[@]}"; do kill -TERM "$pid"; wait "$pid" || fail "a node did not stop cleanly"; done
pids=()
dpkg --purge zcluster >/dev/null
[ ! -e /usr/sbin/zclusterd ] || fail "zclusterd is still there after purge"
[ ! -e /etc/zcluster/ossec.conf ] || fail "the config is still there after purge"
[ ! -e /var/lib/zcluster ] || fail "/var/lib/zcluster is still there after purge"
echo "PASSED"
