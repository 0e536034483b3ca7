#!/usr/bin/env bash
# Demo: a group chat of two families' children. Ann (Mum's child) and Bea and Cal (Dad's
# children) are friends with their parents' approval; Ann makes a group with Bea; Cal,
# whom Ann knows but Bea's friends do not, cannot be added until Bea and Cal are
# approved friends too; one upload reaches every member, with delivered and read
# receipts; Mum sees Ann's groups; Dad takes Bea out of the group.
# Needs a running node (or cluster).
# Environment: KINBOX (path of the kinbox CLI), GATEWAY (host:port), PROFILES (a dir).
set -euo pipefail
KINBOX=${KINBOX:-kinbox}
GATEWAY=${GATEWAY:-127.0.0.1:7420}
PROFILES=${PROFILES:-$(mktemp -d)}
rm -rf "$PROFILES/mum" "$PROFILES/dad" "$PROFILES/ann" "$PROFILES/bea" "$PROFILES/cal"

k() {
  local who=$1; shift
  "$KINBOX" --profile "$PROFILES/$who" --gateway "$GATEWAY" "$@"
}
code_of() { sed -E 's/.*"code":"([0-9-]+)".*/\1/'; }
id_of() { k "$1" --json whoami | sed -E 's/.*"id":([0-9]+).*/\1/'; }
group_of() { sed -E 's/.*"group":([0-9]+).*/\1/'; }

echo "== Mum makes Ann's account, Dad makes Bea's and Cal's"
k mum register --name Mum --birth-date 1984-03-02
k dad register --name Dad --birth-date 1981-11-20
k ann register --setup-code "$(k mum --json child add --name Ann --birth-date 2015-04-12 | code_of)"
k bea register --setup-code "$(k dad --json child add --name Bea --birth-date 2014-09-30 | code_of)"
k cal register --setup-code "$(k dad --json child add --name Cal --birth-date 2016-01-20 | code_of)"
ANN=$(id_of ann) BEA=$(id_of bea) CAL=$(id_of cal)

echo "== Ann asks Bea and Cal to be friends; each parent approves its child's steps"
k ann friend add "$BEA"
k ann friend add "$CAL"
sleep 0.2
k mum approvals approve "$ANN" "$BEA"
k mum approvals approve "$ANN" "$CAL"
k bea friend accept "$ANN"
k cal friend accept "$ANN"
sleep 0.2
k dad approvals approve "$BEA" "$ANN"
k dad approvals approve "$CAL" "$ANN"
sleep 0.2
k ann friend list

echo "== Ann makes a group with Bea and Cal: refused, Bea and Cal were never approved for each other"
if k ann group create "Football" "$BEA" "$CAL"; then
  echo "a group of children who were never approved for each other was made" >&2
  exit 1
fi

echo "== Ann makes the group with Bea; Cal cannot be added yet"
GROUP=$(k ann --json group create "Football" "$BEA" | group_of)
k ann group show "$GROUP"
if k ann group add "$GROUP" "$CAL"; then
  echo "Cal was added to a group with Bea, who was never approved for him" >&2
  exit 1
fi

echo "== Ann types, then writes to the group once; the server hands each member its copy"
k ann typing "$GROUP"
k ann group send "$GROUP" "Football at 4?"
k bea recv --wait 2 --read

echo "== Ann gets Bea's delivered and read receipts"
k ann recv --wait 2

echo "== Mum sees the groups Ann is in"
k mum group list "$ANN"
k mum contacts "$ANN"

echo "== Bea and Cal become friends (Dad approves both): now Cal may join"
k bea friend add "$CAL"
sleep 0.2
k dad approvals approve "$BEA" "$CAL"
k cal friend accept "$BEA"
sleep 0.2
k dad approvals approve "$CAL" "$BEA"
sleep 0.2
k ann group add "$GROUP" "$CAL"
k cal group send "$GROUP" "Count me in"
k ann recv --wait 2
k bea recv --wait 2

echo "== Dad takes Bea out of the group; Ann leaves"
k dad group remove "$GROUP" "$BEA"
k ann group leave "$GROUP"
k cal group show "$GROUP"
echo "== demo done"
