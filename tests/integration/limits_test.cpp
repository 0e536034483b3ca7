// The gateway's abuse limits, met from another loopback address while two friends on
// 127.0.0.1 go on talking: registrations, connections, unauthenticated connections,
// handshakes and requests each get `rate_limited` with a retry-after.
#define CAF_SUITE limits
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <set>

#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

/// A TCP connection from `source` that sends nothing.
class silent_socket {
public:
  silent_socket(const char* source, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &local.sin_addr);
    CAF_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) == 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    CAF_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~silent_socket() { ::close(fd_); }
  silent_socket(const silent_socket&) = delete;
  silent_socket& operator=(const silent_socket&) = delete;

  /// Whether the server closed the connection within `timeout` (after what it sent).
  bool closed_by_server(std::chrono::milliseconds timeout, bytes& received) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      uint8_t buf[512];
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        return true;
      received.insert(received.end(), buf, buf + n);
    }
    return false;
  }

private:
  int fd_ = -1;
};

/// The plaintext error frame a refused connection got before its close.
std::optional<error_body> plain_error(const bytes& received) {
  record_reader reader{1 << 16};
  reader.append(received);
  auto rec = reader.next();
  if (!rec || !*rec)
    return std::nullopt;
  auto f = decode_frame((*rec)->payload);
  if (!f || f->type != frame_type::error)
    return std::nullopt;
  auto body = decode_body<error_body>(f->body);
  return body ? std::optional<error_body>{*body} : std::nullopt;
}

bytes registration() {
  return encode_body(register_request{"Flood", "1980-01-01", account_role::parent,
                                      crypto::sign_keypair::generate().pk,
                                      crypto::box_keypair::generate().pk});
}

/// Alice sends `n` messages to Bob, who gets them all.
void converse(user& alice, user& bob, int n, const std::string& tag) {
  std::set<message_id> sent;
  for (int i = 0; i < n; ++i) {
    auto id = alice->send_text(bob.id, tag + std::to_string(i));
    CAF_REQUIRE(id);
    sent.insert(*id);
  }
  std::set<message_id> got;
  for (auto& r : receive_n(bob, static_cast<size_t>(n), 10s))
    got.insert(r.id);
  CAF_CHECK(got == sent);
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(limits_tests, nats_fixture)

CAF_TEST(a registration flood meets its limit per address while friends talk) {
  node n{&nats, {"--limit-registrations-per-address", "5"}};
  auto [alice, bob] = make_friends(n);
  auto flood = client::connection::open("127.0.0.1", n.port(), std::nullopt, 5s, "127.0.0.2");
  CAF_REQUIRE(flood);
  // Forms the server refuses (a name with nothing visible) cost the address nothing.
  for (int i = 0; i < 8; ++i) {
    auto typo =
        (*flood)->request(frame_type::register_account,
                          encode_body(register_request{"...", "1980-01-01", account_role::parent,
                                                       crypto::sign_keypair::generate().pk,
                                                       crypto::box_keypair::generate().pk}));
    CAF_REQUIRE(!typo);
    CAF_CHECK(typo.error().code == errc::invalid_argument);
  }
  int registered = 0;
  std::optional<failure> limited;
  for (int i = 0; i < 20 && !limited; ++i) {
    auto r = (*flood)->request(frame_type::register_account, registration());
    if (r)
      ++registered;
    else
      limited = r.error();
    if (i % 4 == 0)
      converse(alice, bob, 2, "during " + std::to_string(i));
  }
  CAF_REQUIRE(limited);
  CAF_CHECK(limited->code == errc::rate_limited);
  CAF_CHECK_GREATER(limited->retry_after_ms, 0u);
  CAF_CHECK_EQUAL(registered, 5);
  CAF_CHECK(!(*flood)->closed()); // a limit is an answer, not a cut
  // Another address may still register.
  auto other = client::connection::open("127.0.0.1", n.port(), std::nullopt, 5s, "127.0.0.3");
  CAF_REQUIRE(other);
  CAF_CHECK((*other)->request(frame_type::register_account, registration()));
  CAF_CHECK(n.log().find("event=registration_limited") != std::string::npos);
  converse(alice, bob, 5, "after ");
}

CAF_TEST(a flood of silent connections meets its limits while friends talk) {
  node n{&nats,
         {"--limit-unauthenticated-per-address", "8", "--limit-connections-per-address", "12",
          "--limit-connections", "40"}};
  auto [alice, bob] = make_friends(n);
  std::vector<std::unique_ptr<silent_socket>> held;
  for (int i = 0; i < 8; ++i)
    held.push_back(std::make_unique<silent_socket>("127.0.0.2", n.port()));
  // The ninth silent connection of that address is refused at once, with a retry-after.
  silent_socket ninth{"127.0.0.2", n.port()};
  bytes received;
  CAF_REQUIRE(ninth.closed_by_server(5s, received));
  auto why = plain_error(received);
  CAF_REQUIRE(why);
  CAF_CHECK(why->code == errc::rate_limited);
  CAF_CHECK_GREATER(why->retry_after_ms, 0u);
  bytes nothing;
  CAF_CHECK(!held.front()->closed_by_server(200ms, nothing)); // the held ones stay
  converse(alice, bob, 5, "under silent flood ");
  // The total: 40 connections on the node; two friends hold two, 8 are held above.
  std::vector<std::unique_ptr<silent_socket>> more;
  for (int a = 3; a < 7; ++a)
    for (int i = 0; i < 8; ++i)
      more.push_back(
          std::make_unique<silent_socket>(("127.0.0." + std::to_string(a)).c_str(), n.port()));
  // 2 + 8 + 30 admitted so far; the 31st of these is past the total.
  bytes last;
  CAF_CHECK(more.back()->closed_by_server(2s, last));
  CAF_CHECK(plain_error(last) && plain_error(last)->code == errc::rate_limited);
  // Logged-in friends are not disturbed, and freed places are taken again.
  more.clear();
  held.clear();
  converse(alice, bob, 5, "after the flood ");
  auto carol = make_user(n, "Carol");
  CAF_CHECK(carol->whoami());
  CAF_CHECK(n.log().find("event=connection_limited") != std::string::npos);
}

CAF_TEST(handshakes and requests meet their rates) {
  node n{&nats, {"--limit-handshakes-per-address", "1", "--limit-requests", "20"}};
  // Handshakes from one address: a burst of 4, then one a second.
  int opened = 0;
  std::optional<failure> refused;
  for (int i = 0; i < 10 && !refused; ++i) {
    auto c = client::connection::open("127.0.0.1", n.port(), std::nullopt, 5s, "127.0.0.2");
    if (c)
      ++opened;
    else
      refused = c.error();
  }
  CAF_REQUIRE(refused);
  CAF_CHECK(refused->code == errc::rate_limited);
  CAF_CHECK_GREATER(refused->retry_after_ms, 0u);
  CAF_CHECK_EQUAL(opened, 4);
  // Requests of one connection: a burst of 200, then 20 a second.
  auto u = make_user(n, "Eager");
  auto& conn = u->conn();
  for (int i = 0; i < 400; ++i)
    conn.queue_frame(frame{frame_type::whoami, conn.next_request_id(), {}});
  CAF_REQUIRE(conn.flush());
  int answered = 0, limited = 0;
  while (answered + limited < 400) {
    auto f = conn.read_frame(5s);
    CAF_REQUIRE(f);
    if (f->type == frame_type::login_ok) {
      ++answered;
    } else {
      CAF_REQUIRE(f->type == frame_type::error);
      auto why = decode_body<error_body>(f->body);
      CAF_REQUIRE(why);
      CAF_CHECK(why->code == errc::rate_limited);
      CAF_CHECK_GREATER(why->retry_after_ms, 0u);
      ++limited;
    }
  }
  CAF_CHECK_GREATER_OR_EQUAL(answered, 190);
  CAF_CHECK_LESS(answered, 260);
  CAF_CHECK_GREATER(limited, 100);
}

CAF_TEST(reports are one per target and a few a day and never of unknown ids and bounded in bytes) {
  node n{&nats, {"--reports-per-day", "6", "--reports-max-bytes", "4KiB"}};
  auto reports_filed = [&] {
    auto listed = run_command(
        {KINBOX_ADMIN_BIN, "--nats", nats.url(), "--cluster", "test", "--json", "reports", "list"});
    CAF_REQUIRE_EQUAL(listed.status, 0);
    return std::count(listed.out.begin(), listed.out.end(), '{') - 1; // the outer object
  };
  auto mallory = make_user(n, "Mallory");
  auto alice = make_user(n, "Alice");
  // 500 reports of one account: one is filed, every answer is ok.
  for (int i = 0; i < 500; ++i)
    CAF_REQUIRE(mallory->report(alice.id, report_category::other));
  CAF_CHECK_EQUAL(reports_filed(), 1);
  // An id without an account: answered the same, not stored.
  CAF_CHECK(mallory->report(1'234'567'890, report_category::bullying));
  CAF_CHECK_EQUAL(reports_filed(), 1);
  // Past its bucket (6 a day, bursts of 3: Alice, the unknown id, one more) the account's
  // reports are refused; the block holds.
  auto second = make_user(n, "Second");
  CAF_CHECK(mallory->report(second.id, report_category::other));
  CAF_CHECK_EQUAL(reports_filed(), 2);
  auto third = make_user(n, "Third");
  auto refused = mallory->report(third.id, report_category::other);
  CAF_REQUIRE(!refused);
  CAF_CHECK(refused.error().code == errc::rate_limited);
  CAF_CHECK_GREATER(refused.error().retry_after_ms, 0u);
  CAF_CHECK(!third->send_text(mallory.id, "blocked"));
  // The stream keeps 4 KiB: once full, a report is `unavailable` and the operators' log says so.
  std::optional<failure> full;
  for (int i = 0; i < 40 && !full; ++i) {
    auto reporter = make_user(n, "Reporter " + std::to_string(i));
    if (auto r = reporter->report(alice.id, report_category::harassment); !r)
      full = r.error();
  }
  CAF_REQUIRE(full);
  CAF_CHECK(full->code == errc::unavailable);
  CAF_CHECK(n.log().find("event=report_not_stored") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
