#!/usr/bin/env bash
# Demo: calls and quiet hours. Ann (Mum's child) and Bea (Dad's child) are approved
# friends. Ann calls Bea while Bea is offline: a missed call waits for her. Bea online:
# the call rings, Bea answers from another command, Ann hears it. Dad ends a call of
# Bea's. Dad sets quiet hours that run now: Ann's call is answered asleep, Ann's message
# waits, Bea may write only to Dad; when Dad turns them off, the message and the missed
# call arrive.
# Needs a running node (or cluster).
# Environment: KINBOX (path of the kinbox CLI), GATEWAY (host:port), PROFILES (a dir).
set -euo pipefail
KINBOX=${KINBOX:-kinbox}
GATEWAY=${GATEWAY:-127.0.0.1:7420}
PROFILES=${PROFILES:-$(mktemp -d)}
rm -rf "$PROFILES/mum" "$PROFILES/dad" "$PROFILES/ann" "$PROFILES/bea"

k() {
  local who=$1; shift
  "$KINBOX" --profile "$PROFILES/$who" --gateway "$GATEWAY" "$@"
}
code_of() { sed -E 's/.*"code":"([0-9-]+)".*/\1/'; }
id_of() { k "$1" --json whoami | sed -E 's/.*"id":([0-9]+).*/\1/'; }
call_of() { grep '"signal":"offer"' | head -1 | sed -E 's/.*"call":([0-9]+).*/\1/'; }
# Waits (up to 10 s) until file $1 holds text $2.
wait_for() {
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "gave up waiting for '$2' in $1" >&2
  return 1
}

echo "== Mum makes Ann's account, Dad makes Bea's; Ann and Bea become approved friends"
k mum register --name Mum --birth-date 1984-03-02
k dad register --name Dad --birth-date 1981-11-20
k ann register --setup-code "$(k mum --json child add --name Ann --birth-date 2015-04-12 | code_of)"
k bea register --setup-code "$(k dad --json child add --name Bea --birth-date 2014-09-30 | code_of)"
ANN=$(id_of ann) BEA=$(id_of bea) DAD=$(id_of dad)
k ann friend add "$BEA"
sleep 0.2
k mum approvals approve "$ANN" "$BEA"
k bea friend accept "$ANN"
sleep 0.2
k dad approvals approve "$BEA" "$ANN"
sleep 0.2

echo "== Bea is offline: Ann's call cannot ring; Bea finds a missed call"
k ann call "$BEA" --wait 0
k bea recv --wait 1

echo "== Bea is online: Ann's video call rings; Bea answers it from another command"
k bea --json recv --wait 6 > "$PROFILES/bea-recv.json" &
sleep 1
k ann call "$BEA" --video --wait 20 > "$PROFILES/ann-call.txt" &
CALLER=$!
wait_for "$PROFILES/bea-recv.json" '"signal":"offer"'
CALL=$(call_of < "$PROFILES/bea-recv.json")
k bea call answer "$CALL"
wait "$CALLER"
cat "$PROFILES/ann-call.txt"
grep -q ": answer" "$PROFILES/ann-call.txt"

echo "== Ann calls again; Dad ends Bea's ringing call"
k bea --json recv --wait 6 > "$PROFILES/bea-recv.json" &
sleep 1
k ann call "$BEA" --wait 20 > "$PROFILES/ann-call.txt" &
CALLER=$!
wait_for "$PROFILES/bea-recv.json" '"signal":"offer"'
k dad call end "$BEA"
wait "$CALLER"
cat "$PROFILES/ann-call.txt"
grep -q "hangup (ended)" "$PROFILES/ann-call.txt"
wait

echo "== Dad sets quiet hours for Bea that run now (an hour either side, UTC)"
FROM=$(date -u -d '-1 hour' +%H:%M) TO=$(date -u -d '+1 hour' +%H:%M)
k dad quiet set "$BEA" --from "$FROM" --to "$TO" --tz UTC
k bea quiet show

echo "== Ann's call is answered asleep; her message waits; Bea may write only to Dad"
k ann call "$BEA" --wait 0
k ann send "$BEA" "are you awake?"
k bea recv --wait 1
if k bea send "$ANN" "yes!"; then
  echo "a child in its quiet hours reached a friend" >&2
  exit 1
fi
k bea send "$DAD" "good night"

echo "== Dad turns quiet hours off: the message and the missed call arrive"
k dad quiet off "$BEA"
k bea recv --wait 2
k dad recv --wait 1
echo "demo done"
