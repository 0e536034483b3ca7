#!/usr/bin/env bash
# Demo: two children register, become friends, exchange an end-to-end encrypted message,
# and see the delivery receipt. Needs a running node (or cluster).
# Environment: KINBOX (path of the kinbox CLI), GATEWAY (host:port), PROFILES (a dir);
# GATEWAY_MIA and GATEWAY_LEO put the two apps on different nodes of a cluster.
set -euo pipefail
KINBOX=${KINBOX:-kinbox}
GATEWAY=${GATEWAY:-127.0.0.1:7420}
GATEWAY_MIA=${GATEWAY_MIA:-$GATEWAY}
GATEWAY_LEO=${GATEWAY_LEO:-$GATEWAY}
PROFILES=${PROFILES:-$(mktemp -d)}
rm -rf "$PROFILES/mia" "$PROFILES/leo"

k() {
  local who=$1; shift
  local gateway=$GATEWAY_MIA
  [ "$who" = leo ] && gateway=$GATEWAY_LEO
  "$KINBOX" --profile "$PROFILES/$who" --gateway "$gateway" "$@"
}
if [ "$GATEWAY_MIA" != "$GATEWAY_LEO" ]; then
  echo "== Mia's app uses the gateway $GATEWAY_MIA, Leo's $GATEWAY_LEO"
fi
id_of() { k "$1" --json whoami | sed -E 's/.*"id":([0-9]+).*/\1/'; }

echo "== Mia and Leo register"
k mia register --name Mia --birth-date 2015-04-12 --role child
k leo register --name Leo --birth-date 2014-09-30 --role child
MIA=$(id_of mia)
LEO=$(id_of leo)

echo "== Mia asks Leo to be friends; Leo sees the request and accepts"
k mia friend add "$LEO"
sleep 0.2
k leo friend list
k leo friend accept "$MIA"
sleep 0.2
k mia friend list

echo "== Mia sends Leo a message (encrypted on Mia's device; the server sees ciphertext)"
k mia send "$LEO" "Hi Leo! Football after school?"

echo "== Leo receives it (and acks it, which deletes it from the server)"
k leo recv --wait 2

echo "== Mia gets the delivery receipt and sees Leo's status"
k mia recv --wait 2
k mia status "$LEO"
echo "== demo done"
