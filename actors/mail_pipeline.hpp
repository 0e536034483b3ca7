// The delivery pipeline of one account, as a plain class whose methods return decisions:
// who may write to the account (admission by kind), mail pushed at once and held for its
// ack (held_window) or stored, the answers to senders, acks and their receipts, the drain
// of stored mail in pages (backlog_pager), and when pushed mail is checked for its ack
// and pushed again (redelivery). No actor, store or clock in it: the user actor
// (user_delivery.cpp) does the I/O each decision names, and tests/unit/mail_pipeline_test
// has the rules.
#pragma once

#include <caf/actor_clock.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "actors/backlog_pager.hpp"
#include "actors/contacts.hpp"
#include "actors/held_window.hpp"
#include "actors/redelivery.hpp"
#include "actors/user_interface.hpp"
#include "persistence/mailbox.hpp"

namespace kinbox {

/// Mail handed to an account by a deliver request, stored together with the rest of its
/// batch.
struct incoming_mail {
  account_id sender;
  deliver_body body;
  reply_to rp;
};

/// The account, as admission asks it: its contact list, whether it is a frozen child (a
/// child without a parent), and the box key its notices are sealed to.
struct mailbox_owner {
  account_id id = 0;
  const contact_list_state* contacts = nullptr;
  bool frozen = false;
  public_key box_key{};
};

/// Whether mail of `kind` from `sender` may reach the account now: messages and group
/// copies only from friends and its linked parent or children, and not to a frozen child
/// (the filter every group fan-out meets); read receipts from the same; notices only
/// from the families of its children, or from the account's own actor (about a child
/// that left); delivery receipts are made by servers; locations and typing never go
/// through the mailbox.
bool admits(const mailbox_owner& owner, account_id sender, mail_kind kind);

/// Stored messages, group copies and read receipts of a frozen child stay stored:
/// neither pushed nor dropped, they come once a parent links it (or expire).
bool held_back(const mailbox_owner& owner, const envelope& e);

/// Mail as the device gets it.
mail_push to_push(const envelope& e);

/// The `delivered` receipts of the messages and group copies `keys` name: one receipt mail
/// per sender, naming up to 1 + max_receipt_ids of its messages.
std::vector<entity_request> delivered_receipts(account_id self, std::span<const mail_key> keys);

struct mail_pipeline_config {
  std::chrono::milliseconds mail_ttl{std::chrono::hours(24 * 15)};
  /// How long pushed mail waits here for its ack before it is stored (0: store at once).
  std::chrono::milliseconds ack_window{50};
  size_t max_held_per_user = 4096;
  std::shared_ptr<held_budget> held; ///< the node-wide bound on held payload bytes
  size_t drain_pages_in_flight = 2;
  std::chrono::milliseconds redeliver_after{std::chrono::seconds(10)};
};

class mail_pipeline {
public:
  using time_point = caf::actor_clock::time_point;

  explicit mail_pipeline(mail_pipeline_config cfg);

  /// What to do with the mail of one batch of delivers (refused senders are answered
  /// `not_found` here, in the same words as for an unknown account).
  struct delivery {
    std::vector<mail_push> push; ///< to the session now
    mail_to_store flush;         ///< held mail to store first: it is older
    mail_to_store put;           ///< to store now; its senders hear `accepted` when durable
    bool put_pushed = false;     ///< `put` is in `push`; else push it once committed
    bool arm_held_timer = false; ///< mail was held: its window's timer must run
  };
  /// Early push only when nothing older is still on its way to the device: no backlog
  /// page is read or left, and no mail waits for its commit. Mail pushed at once is held
  /// for its ack (all or nothing, within the bounds); everything else is stored.
  delivery deliver(std::vector<incoming_mail> incoming, const mailbox_owner& owner,
                   bool attached, uint64_t now_ms, time_point now);

  /// Puts came back: each sender's answer (`mailbox_cap` past the recipient's cap).
  static entity_reply put_answer(put_result r);
  /// The put of mail not pushed yet (`deliver`'s `put_pushed` false) came back: what to
  /// push now. Mail stored while a page is read may or may not be in that page: a page
  /// brings it then.
  std::vector<mail_push> committed(const std::vector<envelope>& mail,
                                   const std::vector<put_result>& stored, bool attached);
  /// That put failed: its mail is no longer waiting for a commit.
  void put_failed(size_t count) { deferred_ -= count; }

  /// What an ack does.
  struct ack_plan {
    std::vector<entity_request> receipts; ///< for held mail, done with here
    std::vector<mail_ref> delete_stored;  ///< acked mail in the store
    bool read_page = false; ///< more pages remain: read the next while this commits
  };
  ack_plan ack(account_id self, std::span<const mail_key> keys);
  /// The store removed acked mail: the receipts for it (mail acked twice, or already
  /// gone, is not in `removed` and gets none).
  static std::vector<entity_request> receipts_for(account_id self,
                                                  const std::vector<envelope>& removed);
  /// After an ack is done: whether a page should be read (more pages, or mail stored
  /// while they were read).
  bool wants_read() const { return backlog_.wants_read(); }

  /// A page read may start: held mail is stored first (it was pushed to an earlier
  /// session, or never acked: it is paged in order), then the page after `after` read.
  struct page_start {
    mail_to_store flush;
    uint64_t after = 0;
  };
  /// nullopt when no read may start (none while one is out, or `drain_pages_in_flight`
  /// pages are pushed and not fully acked).
  std::optional<page_start> start_page(time_point now);
  /// A page came: what to push, the strays to delete without receipts (from contacts
  /// removed since they were stored), and whether to read the next at once.
  struct page_plan {
    std::vector<mail_push> push;
    std::vector<mail_ref> strays;
    bool again = false;
  };
  page_plan page_read(const mail_page& page, const mailbox_owner& owner);
  /// The read came back for an earlier session; or failed (a later check pages again).
  void page_dropped() { backlog_.read_dropped(); }
  void page_failed() { backlog_.read_failed(); }

  /// Whether a check for unacked mail should be armed now: the wait, or nullopt if one is
  /// armed already.
  std::optional<std::chrono::milliseconds> arm_check() { return checks_.arm(); }
  /// A check's timer fired (for this session or an earlier one).
  void check_fired() { checks_.due(); }
  /// What a due check for the attached session does.
  enum class check {
    wait,       ///< a page read is out, or acks came: look again later
    page_again, ///< pages are out and no ack came for a whole wait: page from the start
    read_all,   ///< the backlog is through: read the stored mail for what was not acked
  };
  check check_due();
  /// The stored mail a `read_all` check read: what was pushed longer than the wait ago
  /// and not acked goes again (the device drops what it has by id).
  struct recheck_plan {
    std::vector<mail_push> again;
    std::vector<mail_ref> strays;
    bool arm = false; ///< mail may still be stored unacked after this read: look again
  };
  recheck_plan recheck(const mail_page& page, const mailbox_owner& owner, uint64_t now_ms);

  /// A session attached: the drain and the checks start over.
  void attached();
  /// The session went: held mail is stored (no ack can come now).
  mail_to_store detached(time_point now);
  /// New mail reached the store from elsewhere (a handoff): page it in.
  void stored_elsewhere() { backlog_.mail_stored_meanwhile(); }

  /// Held mail whose window ended by `now`, or all of it.
  mail_to_store take_held(bool all, time_point now);
  /// When the held timer should fire next, if one is not already on its way.
  std::optional<time_point> held_timer_due();
  void held_timer_fired() { held_timer_ = false; }
  /// Every held sender hears `accepted` (the account is being deleted).
  void answer_held() { held_.answer_all(*cfg_.held); }

  const held_window& held() const { return held_; }
  bool paging() const { return backlog_.paging(); }
  bool more() const { return backlog_.more(); }
  size_t deferred() const { return deferred_; }
  /// Nothing held, waiting for a commit or a held timer: the actor may go idle.
  bool quiet() const { return held_.empty() && deferred_ == 0 && !held_timer_; }

private:
  mail_pipeline_config cfg_;
  held_window held_;
  backlog_pager backlog_;
  redelivery checks_;
  size_t deferred_ = 0; ///< mail waiting for its commit before it is pushed
  bool held_timer_ = false;
};

} // namespace kinbox
