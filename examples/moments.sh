#!/usr/bin/env bash
# Demo: Moments, posts to friends. Ann (Mum's child) and Cal (Dad's child) are each
# approved friends of Bea (Dad's child), not of each other. Bea posts: Ann, Cal and Dad
# get it. Ann comments: Bea sees it, Cal does not (Ann was never approved for him). Cal
# likes it: Bea and Dad see it, Ann does not. Bea deletes the post: Cal's copy, still
# waiting, is gone, and both apps are told to delete it. Dad deletes a post of Bea's.
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
post_of() { sed -E 's/.*"post":"([0-9-]+)".*/\1/'; }
# Makes $1 and $2 approved friends; $3 and $4 are their parents.
befriend() {
  k "$1" friend add "$(id_of "$2")"
  sleep 0.2
  k "$3" approvals approve "$(id_of "$1")" "$(id_of "$2")"
  k "$2" friend accept "$(id_of "$1")"
  sleep 0.2
  k "$4" approvals approve "$(id_of "$2")" "$(id_of "$1")"
  sleep 0.2
}

echo "== Mum makes Ann's account, Dad makes Bea's and Cal's; Bea befriends Ann and Cal"
k mum register --name Mum --birth-date 1984-03-02
k dad register --name Dad --birth-date 1981-11-20
k ann register --setup-code "$(k mum --json child add --name Ann --birth-date 2015-04-12 | code_of)"
k bea register --setup-code "$(k dad --json child add --name Bea --birth-date 2014-09-30 | code_of)"
k cal register --setup-code "$(k dad --json child add --name Cal --birth-date 2016-01-20 | code_of)"
befriend bea ann dad mum
befriend bea cal dad dad

echo "== Bea posts; Ann reads it at once, Cal not yet"
POST=$(k bea --json moment post "Our new puppy!" | post_of)
echo "posted $POST"
k ann recv --wait 1

echo "== Ann comments: to Bea (and Ann's friends), never to Cal, whom Ann was never approved for"
k ann moment comment "$POST" "So cute"
echo "== Cal gives it a like: Bea and Dad see it, Ann does not"
k cal moment like "$POST"
k bea recv --wait 1
k dad recv --wait 1 | grep -v "^child" || true
k ann recv --wait 1

echo "== Bea deletes the post: Cal's waiting copy is gone; both apps are told"
k bea moment delete "$POST"
k ann recv --wait 1
k cal recv --wait 1

echo "== Dad deletes a post of Bea's"
POST2=$(k bea --json moment post "my phone number is ..." | post_of)
k ann recv --wait 1
k dad moment delete "$POST2"
k ann recv --wait 1
echo "demo done"
