#!/usr/bin/env bash
# README command (a): install what is missing, build, then run a demo cluster on loopback — a
# master and two workers, each with its own fresh CURVE key pair in a temporary folder — and
# show `zcluster-control -l`; then simulated agents report to both workers and the master
# shows them with `zcluster-control -a` and `-i`; a group change and a rule edit
# reach both workers. Everything is stopped and removed at the end (KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build >/dev/null
bin=$PWD/build/tools
demo=$(mktemp -d /tmp/zcluster-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $demo"; else rm -rf "$demo"; fi
}
trap cleanup EXIT
# Ports below Linux's ephemeral range (32768+), so no outgoing connection can take one meanwhile;
# the master needs its port and the next one (its PUB).
free_port() {
  python3 - <<'PY'
import random, socket
while True:
    base = random.randrange(20000, 32000)
    try:
        for p in (base, base + 1):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(base); break
    except OSError:
        pass
PY
}
port=$(free_port)
declare -A agent_port=([master]=$(free_port) [w1]=$(free_port) [w2]=$(free_port))

mkdir -p "$demo/keys/authorized"
for n in master w1 w2; do "$bin/zcluster-keygen" "$demo/keys/$n" >/dev/null; done
cp "$demo/keys/w1.pub" "$demo/keys/w2.pub" "$demo/keys/authorized/"

conf() {  # conf NAME TYPE CURVE_EXTRA
  mkdir -p "$demo/$1/etc"
  cat > "$demo/$1/etc/ossec.conf" <<XML
<ossec_config>
  <cluster>
    <name>demo</name>
    <node_name>$1</node_name>
    <node_type>$2</node_type>
    <port>$port</port>
    <bind_addr>127.0.0.1</bind_addr>
    <nodes><node>127.0.0.1</node></nodes>
    <hidden>no</hidden>
    <disabled>no</disabled>
    <home>$demo/$1</home>
    <agent_port>${agent_port[$1]}</agent_port>
    <curve>
      <secret_key>$demo/keys/$1.key</secret_key>
      <public_key>$demo/keys/$1.pub</public_key>
      $3
    </curve>
    <intervals><keep_alive>1</keep_alive><max_allowed_time_without_keepalive>5</max_allowed_time_without_keepalive></intervals>
  </cluster>
</ossec_config>
XML
}
conf master master "<authorized_keys>$demo/keys/authorized</authorized_keys>"
conf w1 worker "<master_public_key>$demo/keys/master.pub</master_public_key>"
conf w2 worker "<master_public_key>$demo/keys/master.pub</master_public_key>"

for n in master w1 w2; do
  "$bin/zclusterd" -c "$demo/$n/etc/ossec.conf"          # daemonizes once started
  pids+=("$(cat "$demo/$n/var/run/zclusterd.pid")")
done
echo "master and two workers started on 127.0.0.1:$port; waiting for both workers' hello..."
for _ in $(seq 100); do
  n=$( { "$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" -l --json 2>/dev/null || true; } | grep -o '"type":"worker"' | wc -l || true)
  [ "$n" = 2 ] && break
  sleep 0.1
done
echo
echo "\$ zcluster-control -c $demo/master/etc/ossec.conf -l"
"$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" -l

# Agents: register 10 on the master; the files stream brings client.keys to both workers; then
# simulated agents report: 001-005 to w1, 006-010 to w2.
for i in $(seq 1 10); do
  "$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" agent add "agent-$i" >/dev/null
done
keys=$demo/master/etc/client.keys
for n in w1 w2; do
  for _ in $(seq 100); do cmp -s "$keys" "$demo/$n/etc/client.keys" && break; sleep 0.1; done
done
head -n 5 "$keys" > "$demo/agents-w1.keys"
tail -n 5 "$keys" > "$demo/agents-w2.keys"
echo
for n in w1 w2; do
  echo "\$ zcluster-agent-sim --worker 127.0.0.1:${agent_port[$n]} --keys agents-$n.keys --server-key $n.pub --duration 1 --rate 20"
  "$bin/zcluster-agent-sim" --worker "127.0.0.1:${agent_port[$n]}" --keys "$demo/agents-$n.keys" \
    --server-key "$demo/keys/$n.pub" --duration 1 --rate 20
done
for _ in $(seq 100); do
  n=$( { "$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" -a -fs active 2>/dev/null || true; } | grep -c agent- || true)
  [ "$n" = 10 ] && break
  sleep 0.1
done
echo
echo "\$ zcluster-control -c $demo/master/etc/ossec.conf -a"
"$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" -a
echo
echo "\$ zcluster-control -c $demo/master/etc/ossec.conf -i"
"$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" -i
echo
echo "\$ grep 'Agent-info sync' $demo/w1/logs/cluster.log | tail -n 2"
grep 'Agent-info sync' "$demo/w1/logs/cluster.log" | tail -n 2

# Groups: every agent got "default" when first seen; put 001-003 in a new group "web" and see
# the change arrive on both workers through the groups stream.
mkdir -p "$demo/master/etc/shared/web"
echo
for a in 001 002 003; do
  echo "\$ zcluster-control -c $demo/master/etc/ossec.conf group assign $a web"
  "$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" group assign "$a" web
done
want=$("$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" --local groups --json)
for n in w1 w2; do
  for _ in $(seq 100); do
    [ "$("$bin/zcluster-control" -c "$demo/$n/etc/ossec.conf" --local groups --json)" = "$want" ] && break
    sleep 0.1
  done
  echo
  echo "\$ zcluster-control -c $demo/$n/etc/ossec.conf --local groups"
  "$bin/zcluster-control" -c "$demo/$n/etc/ossec.conf" --local groups
done
echo
echo "\$ zcluster-control -c $demo/master/etc/ossec.conf group list"
"$bin/zcluster-control" -c "$demo/master/etc/ossec.conf" group list

# Files: edit a rule on the master; inotify sees it, the files stream announces it, both workers
# fetch it and rename it into place.
rule='<group name="demo"><rule id="100100" level="5"><match>zcluster demo</match></rule></group>'
echo
echo "\$ echo '$rule' > $demo/master/etc/rules/local_rules.xml"
mkdir -p "$demo/master/etc/rules"
echo "$rule" > "$demo/master/etc/rules/local_rules.xml"
for n in w1 w2; do
  for _ in $(seq 100); do
    [ -f "$demo/$n/etc/rules/local_rules.xml" ] && cmp -s "$demo/master/etc/rules/local_rules.xml" "$demo/$n/etc/rules/local_rules.xml" && break
    sleep 0.1
  done
  echo "\$ cat $demo/$n/etc/rules/local_rules.xml   # on $n"
  cat "$demo/$n/etc/rules/local_rules.xml"
done
echo
echo "\$ grep 'Integrity sync' $demo/w1/logs/cluster.log | tail -n 2"
grep 'Integrity sync' "$demo/w1/logs/cluster.log" | tail -n 2

# The monitor: the whole cluster's traffic, agents and events as the master sees them (without
# --once it is a live terminal view; q quits).
echo
echo "\$ zcluster-monitor -c $demo/master/etc/ossec.conf --once"
"$bin/zcluster-monitor" -c "$demo/master/etc/ossec.conf" --once
