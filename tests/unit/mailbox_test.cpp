#define CAF_SUITE mailbox
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <lmdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "config/log.hpp"
#include "persistence/mailbox.hpp"

using namespace kinbox;

namespace {

struct fixture {
  std::filesystem::path dir;
  std::unique_ptr<mailbox> box;

  fixture() {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() /
          ("kinbox-mailbox-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir);
    reopen();
  }

  ~fixture() {
    box.reset();
    std::filesystem::remove_all(dir);
  }

  void reopen(uint64_t initial = 1 << 20, uint64_t max = 64 << 20, uint64_t cap_count = 10'000,
              uint64_t cap_bytes = 64 << 20) {
    box.reset();
    auto opened = mailbox::open({dir.string(), initial, max, cap_count, cap_bytes});
    CAF_REQUIRE(opened);
    box = std::move(*opened);
  }

  static envelope mail(account_id to, uint8_t tag, uint64_t expires = 1000, size_t payload = 16) {
    envelope e;
    e.recipient = to;
    e.kind = mail_kind::message;
    e.id.fill(tag);
    e.sender = 77;
    e.stored_at_ms = 1;
    e.expires_at_ms = expires;
    e.payload.assign(payload, tag);
    return e;
  }

  /// What came of the puts: per put, whether it was new.
  struct put_flags {
    std::vector<bool> stored;
  };

  put_flags put(std::vector<envelope> puts) {
    auto out = box->write({std::move(puts), {}});
    CAF_REQUIRE(out);
    CAF_REQUIRE(!out->puts_failed);
    put_flags flags;
    for (auto r : out->stored)
      flags.stored.push_back(r == put_result::stored);
    return flags;
  }

  mail_usage usage_of(account_id recipient) {
    auto u = box->usage(recipient);
    CAF_REQUIRE(u);
    return *u;
  }

  uint64_t count() {
    auto n = box->count();
    CAF_REQUIRE(n);
    return *n;
  }

  std::vector<envelope> pending(account_id who) {
    auto out = box->pending(who, 0, 1000, 1 << 30);
    CAF_REQUIRE(out);
    CAF_CHECK(!out->more);
    return out->mail;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(mailbox_tests, fixture)

CAF_TEST(put stores mail per recipient in arrival order) {
  auto out = put({mail(1, 3), mail(2, 1), mail(1, 2)});
  CAF_CHECK(out.stored == (std::vector<bool>{true, true, true}));
  auto mine = pending(1);
  CAF_REQUIRE_EQUAL(mine.size(), 2u);
  CAF_CHECK_EQUAL(mine[0].id[0], 3);
  CAF_CHECK_EQUAL(mine[1].id[0], 2);
  CAF_CHECK(mine[0].payload == bytes(16, 3));
  CAF_CHECK_EQUAL(mine[0].sender, 77u);
  CAF_CHECK_EQUAL(pending(2).size(), 1u);
  CAF_CHECK_EQUAL(pending(3).size(), 0u);
}

CAF_TEST(storing the same id twice is a no-op) {
  put({mail(1, 5)});
  auto again = put({mail(1, 5), mail(1, 5)});
  CAF_CHECK(again.stored == (std::vector<bool>{false, false}));
  CAF_CHECK_EQUAL(pending(1).size(), 1u);
  auto receipt = mail(1, 5);
  receipt.kind = mail_kind::delivered;
  CAF_CHECK(put({receipt}).stored == (std::vector<bool>{true})); // other kind, other key
  CAF_CHECK(count() == 2u);
}

CAF_TEST(the same id from two senders is two envelopes) {
  auto first = mail(1, 5);
  auto second = mail(1, 5);
  second.sender = 78;
  second.payload = bytes(16, 0xee);
  CAF_CHECK(put({first, second}).stored == (std::vector<bool>{true, true}));
  CAF_CHECK(put({second}).stored == (std::vector<bool>{false})); // a retry of one of them
  CAF_CHECK_EQUAL(pending(1).size(), 2u);
  auto out = box->write({{}, {mail_ref{1, {mail_kind::message, 78, second.id}}}});
  CAF_REQUIRE(out);
  CAF_REQUIRE(out->acked[0]);
  CAF_CHECK_EQUAL(out->acked[0]->sender, 78u);
  auto left = pending(1);
  CAF_REQUIRE_EQUAL(left.size(), 1u);
  CAF_CHECK_EQUAL(left[0].sender, 77u);
  CAF_CHECK(left[0].payload == first.payload);
}

CAF_TEST(ack deletes the mail and returns what it removed) {
  put({mail(1, 5), mail(1, 6)});
  auto out = box->write({{},
                         {mail_ref{1, {mail_kind::message, 77, mail(1, 5).id}},
                          mail_ref{1, {mail_kind::message, 77, mail(9, 9).id}}}});
  CAF_REQUIRE(out);
  CAF_REQUIRE_EQUAL(out->acked.size(), 2u);
  CAF_REQUIRE(out->acked[0]);
  CAF_CHECK_EQUAL(out->acked[0]->sender, 77u);
  CAF_CHECK(out->acked[0]->payload.empty());
  CAF_CHECK(!out->acked[1]); // nothing was stored under that id
  auto left = pending(1);
  CAF_REQUIRE_EQUAL(left.size(), 1u);
  CAF_CHECK_EQUAL(left[0].id[0], 6);
  // After an ack the id may be stored again (a new message with a reused id).
  CAF_CHECK(put({mail(1, 5)}).stored == (std::vector<bool>{true}));
}

CAF_TEST(expire removes exactly the mail due and keeps the rest) {
  put({mail(1, 1, 100), mail(2, 2, 200), mail(1, 3, 300)});
  auto gone = box->expire(200, 1000);
  CAF_REQUIRE(gone);
  CAF_CHECK(!gone->more);
  CAF_REQUIRE_EQUAL(gone->mail.size(), 2u);
  CAF_CHECK_EQUAL(gone->mail[0].id[0], 1);
  CAF_CHECK_EQUAL(gone->mail[0].sender, 77u);
  CAF_CHECK_EQUAL(gone->mail[1].recipient, 2u);
  CAF_CHECK(count() == 1u);
  CAF_CHECK_EQUAL(pending(1).size(), 1u);
  auto none = box->expire(250, 1000);
  CAF_REQUIRE(none);
  CAF_CHECK(none->mail.empty());
  // An expired id may be stored again: its index entry went with it.
  CAF_CHECK(put({mail(1, 1, 5000)}).stored == (std::vector<bool>{true}));
  CAF_CHECK(box->write({{}, {mail_ref{1, {mail_kind::message, 77, mail(1, 3).id}}}}));
  auto last = box->expire(1000, 1000);
  CAF_REQUIRE(last);
  CAF_CHECK(last->mail.empty());
  CAF_CHECK(count() == 1u);
}

CAF_TEST(an expiry pass goes on in bounded steps across recipients) {
  std::vector<envelope> many;
  for (uint8_t i = 0; i < 10; ++i)
    many.push_back(mail(1, i, 10));
  for (account_id r = 2; r <= 8; ++r)
    many.push_back(mail(r, static_cast<uint8_t>(r + 20), 10));
  put(many);
  size_t removed = 0;
  int steps = 0;
  for (bool more = true; more; ++steps) {
    auto step = box->expire(10, 4);
    CAF_REQUIRE(step);
    CAF_CHECK_LESS_OR_EQUAL(step->mail.size(), 4u);
    removed += step->mail.size();
    more = step->more;
    CAF_REQUIRE_LESS(steps, 10);
  }
  CAF_CHECK_EQUAL(removed, 17u);
  CAF_CHECK_GREATER(steps, 4);
  CAF_CHECK(count() == 0u);
}

CAF_TEST(pending pages through the mail by sequence count and bytes) {
  std::vector<envelope> many;
  for (uint8_t i = 1; i <= 10; ++i)
    many.push_back(mail(1, i, 1000, 100));
  put(many);
  auto first = box->pending(1, 0, 4, 1 << 20);
  CAF_REQUIRE(first);
  CAF_REQUIRE_EQUAL(first->mail.size(), 4u);
  CAF_CHECK(first->more);
  auto second = box->pending(1, first->mail.back().seq, 100, 250);
  CAF_REQUIRE(second);
  CAF_REQUIRE_EQUAL(second->mail.size(), 2u); // 250 bytes hold two 100-byte payloads
  CAF_CHECK(second->more);
  CAF_CHECK_EQUAL(second->mail[0].id[0], 5);
  auto tiny = box->pending(1, 0, 100, 1);
  CAF_REQUIRE(tiny);
  CAF_CHECK_EQUAL(tiny->mail.size(), 1u); // always at least one
  auto rest = box->pending(1, second->mail.back().seq, 100, 1 << 20);
  CAF_REQUIRE(rest);
  CAF_CHECK_EQUAL(rest->mail.size(), 4u);
  CAF_CHECK(!rest->more);
  auto none = box->pending(1, rest->mail.back().seq, 100, 1 << 20);
  CAF_REQUIRE(none);
  CAF_CHECK(none->mail.empty());
  CAF_CHECK(!none->more);
}

CAF_TEST(compaction leaves no byte of acked mail in the file and keeps the rest) {
  auto file = dir / "data.mdb";
  auto in_file = [&](const std::string& needle) {
    std::ifstream in{file, std::ios::binary};
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return content.find(needle) != std::string::npos;
  };
  const std::string gone = "ACKED-MAIL-MARKER-must-leave-the-file";
  const std::string kept = "WAITING-MAIL-MARKER-stays-until-acked";
  auto e1 = mail(1, 1);
  e1.payload.assign(gone.begin(), gone.end());
  auto e2 = mail(2, 2);
  e2.payload.assign(kept.begin(), kept.end());
  put({e1, e2});
  auto acked = box->write({{}, {mail_ref{1, {mail_kind::message, 77, e1.id}}}});
  CAF_REQUIRE(acked);
  CAF_CHECK(in_file(gone)); // a freed page keeps it: what compaction is for
  auto size = box->compact();
  CAF_REQUIRE(size);
  CAF_CHECK(!in_file(gone));
  CAF_CHECK(in_file(kept));
  auto perms = std::filesystem::status(file).permissions();
  CAF_CHECK((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
            std::filesystem::perms::none); // the node's alone, as the file it replaced
  auto left = pending(2);
  CAF_REQUIRE_EQUAL(left.size(), 1u);
  CAF_CHECK(left[0].payload == bytes(kept.begin(), kept.end()));
  // The mailbox goes on: sequences continue, dedup holds, a reopen finds it all.
  CAF_CHECK(put({mail(2, 3)}).stored == std::vector<bool>{true});
  CAF_CHECK(put({mail(2, 2)}).stored == std::vector<bool>{false});
  reopen();
  CAF_CHECK_EQUAL(pending(2).size(), 2u);
  CAF_CHECK(!std::filesystem::exists(dir / "compacting"));
}

CAF_TEST(mail and dedup survive a reopen) {
  put({mail(1, 1), mail(1, 2)});
  reopen();
  CAF_CHECK_EQUAL(pending(1).size(), 2u);
  CAF_CHECK(put({mail(1, 1)}).stored == (std::vector<bool>{false}));
  put({mail(1, 3)});
  auto all = pending(1);
  CAF_REQUIRE_EQUAL(all.size(), 3u);
  CAF_CHECK_EQUAL(all[2].id[0], 3); // sequence continues after reopen
}

CAF_TEST(a full map grows and past the maximum refuses new mail keeping the old) {
  reopen(1 << 20, 4 << 20);
  uint8_t tag = 0;
  std::optional<failure> refused;
  std::vector<uint8_t> stored_tags;
  while (!refused && tag < 250) {
    std::vector<envelope> batch{mail(1, tag, 1000, 100 * 1024)};
    auto out = box->write({batch, {}});
    CAF_REQUIRE(out);
    if (out->puts_failed)
      refused = out->puts_failed;
    else
      stored_tags.push_back(tag);
    ++tag;
  }
  CAF_REQUIRE(refused);
  CAF_CHECK(refused->code == errc::mailbox_full);
  CAF_CHECK_GREATER(box->map_size(), uint64_t{1 << 20});
  CAF_CHECK_GREATER(stored_tags.size(), 10u);
  auto all = pending(1);
  CAF_REQUIRE_EQUAL(all.size(), stored_tags.size());
  for (size_t i = 0; i < all.size(); ++i)
    CAF_CHECK(all[i].payload == bytes(100 * 1024, stored_tags[i]));
  // A put that cannot be stored does not fail the acks committed with it.
  auto mixed = box->write(
      {{mail(1, 251, 1000, 100 * 1024)}, {mail_ref{1, {mail_kind::message, 77, all[0].id}}}});
  CAF_REQUIRE(mixed);
  CAF_CHECK(mixed->puts_failed);
  CAF_REQUIRE_EQUAL(mixed->acked.size(), 1u);
  CAF_CHECK(mixed->acked[0]);
  // Acks go on at the limit; expiry too.
  auto acked = box->write({{}, {mail_ref{1, {mail_kind::message, 77, all[1].id}}}});
  CAF_CHECK(acked);
  CAF_CHECK(box->expire(2000, 1000));
  reopen(1 << 20, 4 << 20);
  CAF_CHECK_EQUAL(pending(1).size(), 0u);
}

CAF_TEST(the mail of each recipient is capped in count and bytes and older mail stays) {
  reopen(1 << 20, 64 << 20, 3, 1000);
  auto capped = [&](std::vector<envelope> mail) {
    write_batch b{std::move(mail), {}};
    b.capped.assign(b.puts.size(), true);
    auto out = box->write(b);
    CAF_REQUIRE(out);
    return out->stored;
  };
  using r = put_result;
  CAF_CHECK(capped({mail(1, 1), mail(1, 2), mail(1, 3), mail(1, 4)}) ==
            (std::vector<r>{r::stored, r::stored, r::stored, r::over_cap}));
  CAF_CHECK(capped({mail(2, 1)}) == (std::vector<r>{r::stored})); // others are not affected
  CAF_CHECK(capped({mail(1, 1)}) == (std::vector<r>{r::duplicate}));
  CAF_CHECK_EQUAL(usage_of(1).count, 3u);
  CAF_CHECK_EQUAL(usage_of(1).bytes, 48u);
  // Mail accepted already (moving between nodes) is stored past the cap.
  CAF_CHECK(put({mail(1, 5)}).stored == (std::vector<bool>{true}));
  CAF_CHECK_EQUAL(pending(1).size(), 4u);
  // An ack makes room; the byte cap counts too.
  CAF_CHECK(box->write({{},
                        {mail_ref{1, {mail_kind::message, 77, mail(1, 1).id}},
                         mail_ref{1, {mail_kind::message, 77, mail(1, 2).id}}}}));
  CAF_CHECK(capped({mail(1, 6, 1000, 2000)}) == (std::vector<r>{r::over_cap}));
  CAF_CHECK(capped({mail(1, 7, 1000, 100)}) == (std::vector<r>{r::stored}));
  // The usage survives a reopen and follows expiry.
  reopen(1 << 20, 64 << 20, 3, 1000);
  CAF_CHECK_EQUAL(usage_of(1).count, 3u);
  CAF_CHECK(box->expire(5000, 1000));
  CAF_CHECK_EQUAL(usage_of(1).count, 0u);
  CAF_CHECK_EQUAL(usage_of(1).bytes, 0u);
}

CAF_TEST(a full disk refuses new mail while acks go on and recovers when space returns) {
  reopen(1 << 20, 64 << 20);
  auto data = dir / "data.mdb";
  CAF_REQUIRE_EQUAL(std::filesystem::file_size(data), uint64_t{1} << 20); // allocated
  std::ostringstream lines;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
  log::get("store")->sinks().push_back(sink);
  auto logged = [&](const std::string& event) {
    auto text = lines.str();
    size_t n = 0;
    for (auto at = text.find(event); at != std::string::npos; at = text.find(event, at + 1))
      ++n;
    return n;
  };
  // The disk "fills": no file of this process may grow past what the map has now.
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit full{1 << 20, old.rlim_max};
  CAF_REQUIRE_EQUAL(::setrlimit(RLIMIT_FSIZE, &full), 0);
  std::optional<failure> refused;
  std::vector<message_id> stored;
  for (uint8_t tag = 0; tag < 40 && !refused; ++tag) {
    auto out = box->write({{mail(1, tag, 1000, 64 * 1024)}, {}});
    CAF_REQUIRE(out);
    if (out->puts_failed)
      refused = out->puts_failed;
    else
      stored.push_back(mail(1, tag).id);
  }
  CAF_REQUIRE(refused);
  CAF_CHECK(refused->code == errc::storage_failure);
  CAF_CHECK(errc_retryable(refused->code));
  CAF_REQUIRE_GREATER(stored.size(), 2u);
  auto acked = box->write({{}, {mail_ref{1, {mail_kind::message, 77, stored[0]}}}});
  CAF_CHECK(acked && acked->acked[0]);
  CAF_CHECK_EQUAL(pending(1).size(), stored.size() - 1);
  // Space returns: the next put grows the map and is stored, without a restart.
  CAF_REQUIRE_EQUAL(::setrlimit(RLIMIT_FSIZE, &old), 0);
  for (uint8_t tag = 100; tag < 120; ++tag) {
    auto out = box->write({{mail(1, tag, 1000, 64 * 1024)}, {}});
    CAF_REQUIRE(out);
    CAF_CHECK(!out->puts_failed);
  }
  CAF_CHECK_GREATER(box->map_size(), uint64_t{1} << 20);
  CAF_CHECK_EQUAL(pending(1).size(), stored.size() - 1 + 20);
  // One line when growth is first blocked, one per refused commit, one when it is not.
  CAF_CHECK_EQUAL(logged("event=map_growth_blocked"), 1u);
  CAF_CHECK_EQUAL(logged("event=disk_full"), 1u);
  CAF_CHECK_EQUAL(logged("event=map_growth_unblocked"), 1u);
  log::get("store")->sinks().pop_back();
}

CAF_TEST(a format 1 mailbox is upgraded in place) {
  box.reset();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    // Format 1, written by hand: index values seq|expires_at, an expiry DB, no format key.
    MDB_env* env = nullptr;
    CAF_REQUIRE_EQUAL(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    CAF_REQUIRE_EQUAL(mdb_env_open(env, dir.c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    CAF_REQUIRE_EQUAL(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi mail_db, index_db, expiry_db, meta_db;
    mdb_dbi_open(txn, "mail", MDB_CREATE, &mail_db);
    mdb_dbi_open(txn, "index", MDB_CREATE, &index_db);
    mdb_dbi_open(txn, "expiry", MDB_CREATE, &expiry_db);
    mdb_dbi_open(txn, "meta", MDB_CREATE, &meta_db);
    auto be = [](bytes& out, uint64_t x) {
      for (int i = 7; i >= 0; --i)
        out.push_back(static_cast<uint8_t>(x >> (8 * i)));
    };
    auto put_raw = [&](MDB_dbi db, bytes k, bytes v) {
      MDB_val key{k.size(), k.data()}, val{v.size(), v.data()};
      CAF_REQUIRE_EQUAL(mdb_put(txn, db, &key, &val, 0), 0);
    };
    auto e = mail(1, 4, 500);
    bytes mail_key, value{static_cast<uint8_t>(e.kind)}, index_key, index_value, expiry_key;
    be(mail_key, 1);
    be(mail_key, 1);
    value.insert(value.end(), e.id.begin(), e.id.end());
    be(value, e.sender);
    be(value, e.stored_at_ms);
    be(value, e.expires_at_ms);
    value.insert(value.end(), e.payload.begin(), e.payload.end());
    be(index_key, 1);
    index_key.push_back(static_cast<uint8_t>(e.kind));
    index_key.insert(index_key.end(), e.id.begin(), e.id.end());
    be(index_value, 1);
    be(index_value, e.expires_at_ms);
    be(expiry_key, e.expires_at_ms);
    be(expiry_key, 1);
    be(expiry_key, 1);
    put_raw(mail_db, mail_key, value);
    put_raw(index_db, index_key, index_value);
    put_raw(expiry_db, expiry_key, {});
    bytes next_seq;
    be(next_seq, 2);
    std::string seq_name = "next_seq";
    put_raw(meta_db, bytes(seq_name.c_str(), seq_name.c_str() + seq_name.size() + 1), next_seq);
    CAF_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  reopen();
  auto stored = pending(1);
  CAF_REQUIRE_EQUAL(stored.size(), 1u);
  CAF_CHECK(stored[0].payload == mail(1, 4).payload);
  CAF_CHECK_EQUAL(usage_of(1).count, 1u); // counted in the upgrade
  CAF_CHECK_EQUAL(usage_of(1).bytes, 16u);
  CAF_CHECK(put({mail(1, 4)}).stored == (std::vector<bool>{false}));
  auto acked = box->write({{}, {mail_ref{1, {mail_kind::message, 77, mail(1, 4).id}}}});
  CAF_REQUIRE(acked);
  CAF_REQUIRE(acked->acked[0]);
  CAF_CHECK_EQUAL(acked->acked[0]->sender, 77u);
  CAF_CHECK(count() == 0u);
  put({mail(1, 5)});
  CAF_CHECK_EQUAL(pending(1).front().seq, 2u); // the sequence goes on
}

CAF_TEST_FIXTURE_SCOPE_END()
