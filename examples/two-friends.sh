#!/usr/bin/env bash
# Demo: two parents each make their child's account, and each child's device registers with
# the one-time code its parent got; the children ask to be friends, each parent
# approves (one from the parent's own app, one with the PIN typed on the child's device);
# then the children exchange an end-to-end encrypted message and see the delivery receipt;
# Mia shares her location with her mum, who looks at her contacts and exports her data;
# Mia reports a stranger.
# Needs a running node (or cluster).
# Environment: KINBOX (path of the kinbox CLI), GATEWAY (host:port), PROFILES (a dir);
# GATEWAY_MIA and GATEWAY_LEO put the two apps on different nodes of a cluster.
set -euo pipefail
KINBOX=${KINBOX:-kinbox}
GATEWAY=${GATEWAY:-127.0.0.1:7420}
GATEWAY_MIA=${GATEWAY_MIA:-$GATEWAY}
GATEWAY_LEO=${GATEWAY_LEO:-$GATEWAY}
PROFILES=${PROFILES:-$(mktemp -d)}
rm -rf "$PROFILES/mia" "$PROFILES/leo" "$PROFILES/mum" "$PROFILES/dad" "$PROFILES/max"

# Mia and her mum use one gateway, Leo and his dad the other.
k() {
  local who=$1; shift
  local gateway=$GATEWAY_MIA
  [ "$who" = leo ] || [ "$who" = dad ] && gateway=$GATEWAY_LEO
  "$KINBOX" --profile "$PROFILES/$who" --gateway "$gateway" "$@"
}
code_of() { sed -E 's/.*"code":"([0-9-]+)".*/\1/'; }
if [ "$GATEWAY_MIA" != "$GATEWAY_LEO" ]; then
  echo "== Mia's app uses the gateway $GATEWAY_MIA, Leo's $GATEWAY_LEO"
fi
id_of() { k "$1" --json whoami | sed -E 's/.*"id":([0-9]+).*/\1/'; }

echo "== Mia's mum and Leo's dad register"
k mum register --name "Mia's mum" --birth-date 1984-03-02
k dad register --name "Leo's dad" --birth-date 1981-11-20

echo "== Each parent makes the child's account; the child's device registers with the code"
k mia register --setup-code "$(k mum --json child add --name Mia --birth-date 2015-04-12 | code_of)"
k leo register --setup-code "$(k dad --json child add --name Leo --birth-date 2014-09-30 | code_of)"
MIA=$(id_of mia)
LEO=$(id_of leo)

echo "== Each parent sets the PIN that approves the child's friends"
k mum pin set "$MIA" 2741
k dad pin set "$LEO" 5813
k mum link show "$MIA"

echo "== Mia asks Leo to be friends: the request waits for her mum, who approves it"
k mia friend add "$LEO"
k mia friend list
k mum recv --wait 1
k mum approvals approve "$MIA" "$LEO"
sleep 0.2

echo "== Leo accepts; his dad types the PIN on Leo's device to approve"
k leo friend list
k leo friend accept "$MIA"
k leo approvals approve "$MIA" --pin 5813
sleep 0.2
k mia friend list

echo "== Mia sends Leo a message (encrypted on Mia's device; the server sees ciphertext)"
k mia send "$LEO" "Hi Leo! Football after school?"

echo "== Leo receives it (and acks it, which deletes it from the server)"
k leo recv --wait 2

echo "== Mia gets the delivery receipt and sees Leo's status"
k mia recv --wait 2
k mia status "$LEO"

echo "== Mia shares her location: it goes to her mum only, and is never stored"
k mia location share 48.8584 2.2945 --accuracy 15
k mum location watch --wait 1

echo "== Mum sees Mia's contacts and profile, and exports what the cluster holds on her"
k mum contacts "$MIA"
k mum profile show "$MIA"
k mum export "$MIA" | head -c 300; echo

echo "== A stranger, Max, is reported by Mia: blocked for her at once, Mum is told"
k max register --name Max --birth-date 1990-01-01
k mia report "$(id_of max)" harassment
k mum recv --wait 1
k mia contacts
echo "== demo done"
