#!/usr/bin/env bash
# Demo of a cluster: a 3-server NATS cluster and 3 kinbox nodes on loopback, two friends
# whose apps use different nodes, a backlog kept while one is offline, and a node drained
# away under them without losing a message. Stops everything it started at the end.
# Needs the binaries built (bash scripts/dev-cluster builds them), and nats-server.
# Environment: KINBOX_BUILD (default build/), KINBOX_BASE_PORT (gateways, default 7520),
# KINBOX_NATS_BASE_PORT (default 15222).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
WORK=$(mktemp -d)
BASE=${KINBOX_BASE_PORT:-7520}
KINBOX_NODE_PIDS=""
finish() {
  # shellcheck disable=SC2086
  kill -TERM $KINBOX_NODE_PIDS 2>/dev/null || true
  # shellcheck disable=SC2086
  wait $KINBOX_NODE_PIDS 2>/dev/null || true
  # shellcheck disable=SC2086
  kill -TERM ${KINBOX_NATS_PIDS:-} 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap finish EXIT

echo "== a 3-server NATS cluster and 3 kinbox nodes"
kinbox_start_nats_cluster "$WORK" "${KINBOX_NATS_BASE_PORT:-15222}"
for i in 1 2 3; do
  kinbox_start_node "$WORK" "node$i" "127.0.0.1:$((BASE + i - 1))"
done
for i in 1 2 3; do
  kinbox_wait_port "127.0.0.1:$((BASE + i - 1))"
done
ADMIN=("$KINBOX_BUILD/kinbox-admin" --nats "$KINBOX_NATS_URLS"
  --nats-credentials "$WORK/nats-credentials" --cluster dev)
for _ in $(seq 1 60); do
  "${ADMIN[@]}" status --json 2>/dev/null | grep -q '"shards_to_move":0' && break
  sleep 0.5
done
"${ADMIN[@]}" status

N1=127.0.0.1:$BASE N2=127.0.0.1:$((BASE + 1)) N3=127.0.0.1:$((BASE + 2))
k() { local who=$1 gw=$2; shift 2; "$KINBOX_BUILD/kinbox" --profile "$WORK/$who" --gateway "$gw" "$@"; }
id_of() { k "$1" "$2" --json whoami | sed -E 's/.*"id":([0-9]+).*/\1/'; }

code_of() { sed -E 's/.*"code":"([0-9-]+)".*/\1/'; }

echo "== Mia and her mum register through node1, Leo and his dad through node2"
k mum "$N1" register --name "Mia's mum" --birth-date 1984-03-02
k dad "$N2" register --name "Leo's dad" --birth-date 1981-11-20
echo "== Each parent makes the child's account, linked from its start; the child's device registers"
k mia "$N1" register --setup-code "$(k mum "$N1" --json child add --name Mia --birth-date 2015-04-12 | code_of)"
k leo "$N2" register --setup-code "$(k dad "$N2" --json child add --name Leo --birth-date 2014-09-30 | code_of)"
MIA=$(id_of mia "$N1")
LEO=$(id_of leo "$N2")

echo "== The children become friends with both parents' approval"
k mia "$N1" friend add "$LEO"
k mum "$N1" approvals approve "$MIA" "$LEO"
sleep 0.3
k leo "$N2" friend accept "$MIA"
k dad "$N2" approvals approve "$LEO" "$MIA"
sleep 0.3
k mia "$N1" friend list

echo "== Mia (node1) writes to Leo (node2); Leo reads it; Mia gets the receipt"
k mia "$N1" send "$LEO" "Hi Leo, I am on node1!"
k leo "$N2" recv --wait 3
k mia "$N1" recv --wait 3

echo "== Leo is offline; Mia sends three more; they wait on the node that owns Leo's shard"
for n in 1 2 3; do k mia "$N1" send "$LEO" "message $n while you were away"; done

echo "== node3 is drained: its shards and their mail move to node1 and node2"
"${ADMIN[@]}" drain node3
"${ADMIN[@]}" status

echo "== Leo comes back through node1 or node2 and gets his backlog, in order"
k leo "$N2,$N1" recv --wait 3
echo "== demo done"
