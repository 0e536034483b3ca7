// Bad input on the wire: every kind of broken frame gets an error frame and a closed
// connection, and none of it disturbs a conversation going on at the same time.
#define CAF_SUITE bad_input
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "protocol/wire.hpp"
#include "tests/integration/harness.hpp"

using namespace kinbox;
using namespace kinbox::testing;

namespace {

struct fixture : nats_fixture {
  node n{&nats, {"--max-frame-size", "4KiB", "--auth-timeout", "1s"}};
};

/// A plain socket for writing raw bytes.
class raw_socket {
public:
  explicit raw_socket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    CAF_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~raw_socket() { ::close(fd_); }

  void write(const bytes& data) { ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }

  /// Everything the server sends until it closes (or `timeout` passes).
  std::pair<bytes, bool> read_until_closed(std::chrono::milliseconds timeout) {
    bytes out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      uint8_t buf[4096];
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        return {out, true};
      out.insert(out.end(), buf, buf + n);
    }
    return {out, false};
  }

private:
  int fd_ = -1;
};

bytes plain_record(frame_type type, const bytes& body, uint8_t version = protocol_version) {
  auto f = encode_frame(frame{type, 1, body});
  f[0] = version;
  bytes out;
  append_length_prefix(out, f.size());
  out.insert(out.end(), f.begin(), f.end());
  return out;
}

/// The error code of the plaintext error frame the server sent before closing.
errc plain_error_code(const bytes& received) {
  record_reader reader{1 << 20};
  reader.append(received);
  auto rec = reader.next();
  CAF_REQUIRE(rec && *rec);
  auto f = decode_frame((*rec)->payload);
  CAF_REQUIRE(f);
  CAF_REQUIRE(f->type == frame_type::error);
  auto body = decode_body<error_body>(f->body);
  CAF_REQUIRE(body);
  return body->code;
}

errc expect_plain_rejection(uint16_t port, const bytes& data) {
  raw_socket s{port};
  s.write(data);
  auto [received, closed] = s.read_until_closed(5s);
  CAF_CHECK(closed);
  return plain_error_code(received);
}

/// After the handshake: sends one frame and expects an error frame then a close.
errc expect_sealed_rejection(uint16_t port, const frame& f) {
  auto conn = client::connection::open("127.0.0.1", port, std::nullopt);
  CAF_REQUIRE(conn);
  CAF_REQUIRE((*conn)->write_frame(f));
  auto answer = (*conn)->read_frame(5s);
  CAF_REQUIRE(answer);
  CAF_REQUIRE(answer->type == frame_type::error);
  auto body = decode_body<error_body>(answer->body);
  CAF_REQUIRE(body);
  auto after = (*conn)->read_frame(5s);
  CAF_CHECK(!after);
  CAF_CHECK((*conn)->closed());
  return body->code;
}

} // namespace

/// A client_hello body that offers `cipher` with a key of all `fill` bytes.
bytes hello_body(uint8_t fill, record_cipher cipher = record_cipher::chacha20_poly1305) {
  public_key key;
  key.fill(fill);
  return encode_body(client_hello{key, {cipher}});
}

CAF_TEST_FIXTURE_SCOPE(bad_input_tests, fixture)

CAF_TEST(the SDK refuses a request longer than the gateway takes and the session goes on) {
  auto [amy, ben] = make_friends(n, "Amy", "Ben");
  auto big = amy->send_text(ben.id, std::string(5000, 'x')); // --max-frame-size 4KiB
  CAF_REQUIRE(!big);
  CAF_CHECK(big.error().code == errc::frame_too_large);
  CAF_CHECK(amy->send_text(ben.id, "a short one"));
  auto got = receive_n(ben, 1, 5s);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK_EQUAL(got[0].text, "a short one");
}

CAF_TEST(broken records before the handshake get an error frame and a close) {
  auto port = n.port();
  CAF_CHECK(expect_plain_rejection(port, bytes{0xff, 0xff, 0xff, 0xff, 1, 2, 3}) ==
            errc::frame_too_large);
  CAF_CHECK(expect_plain_rejection(port, bytes{0, 0, 0, 0}) == errc::malformed_frame);
  CAF_CHECK(expect_plain_rejection(port, plain_record(frame_type::client_hello, bytes(32, 1), 7)) ==
            errc::unsupported_version);
  CAF_CHECK(expect_plain_rejection(port, plain_record(static_cast<frame_type>(0x7e), {})) ==
            errc::unknown_type);
  CAF_CHECK(expect_plain_rejection(port, plain_record(frame_type::login, bytes(72, 0))) ==
            errc::unexpected_frame);
  CAF_CHECK(expect_plain_rejection(port, plain_record(frame_type::client_hello, bytes(5, 1))) ==
            errc::malformed_frame);
  CAF_CHECK(expect_plain_rejection(port, plain_record(frame_type::client_hello, bytes(32, 1))) ==
            errc::malformed_frame); // no cipher list
  CAF_CHECK(
      expect_plain_rejection(port, plain_record(frame_type::client_hello,
                                                hello_body(1, static_cast<record_cipher>(99)))) ==
      errc::unsupported_version);
}

CAF_TEST(a truncated record waits for the rest until the auth timeout closes it) {
  raw_socket s{n.port()};
  auto rec = plain_record(frame_type::client_hello, hello_body(1));
  s.write(bytes(rec.begin(), rec.begin() + 10));
  auto [early, closed_early] = s.read_until_closed(300ms);
  CAF_CHECK(early.empty());
  CAF_CHECK(!closed_early);
  auto [received, closed] = s.read_until_closed(5s);
  CAF_CHECK(closed);
  CAF_CHECK(plain_error_code(received) == errc::timeout);
}

CAF_TEST(broken frames after the handshake get an error frame and a close) {
  auto port = n.port();
  CAF_CHECK(expect_sealed_rejection(port, frame{frame_type::send, 3, bytes(40, 0)}) ==
            errc::unexpected_frame); // before login
  CAF_CHECK(expect_sealed_rejection(port, frame{frame_type::mail, 3, {}}) ==
            errc::unexpected_frame);
  CAF_CHECK(expect_sealed_rejection(port, frame{frame_type::register_account, 3, bytes(3, 0)}) ==
            errc::malformed_frame);
  CAF_CHECK(expect_sealed_rejection(port, frame{frame_type::client_hello, 3, bytes(32, 0)}) ==
            errc::unexpected_frame);
}

CAF_TEST(a client may connect from another loopback address and a bad one is refused) {
  auto other = client::connection::open("127.0.0.1", n.port(), std::nullopt, 5s, "127.0.0.2");
  CAF_REQUIRE(other);
  CAF_CHECK(!(*other)->closed());
  auto bad = client::connection::open("127.0.0.1", n.port(), std::nullopt, 5s, "not-an-ip");
  CAF_REQUIRE(!bad);
  CAF_CHECK(bad.error().code == errc::unavailable);
  CAF_CHECK(bad.error().message.find("bad source address") != std::string::npos);
}

CAF_TEST(a login with a wrong signature is refused) {
  auto alice = make_user(n, "Alice");
  auto conn = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(conn);
  signature forged{};
  auto reply =
      (*conn)->request(frame_type::login, encode_body(login_request{alice.id, forged, {}}));
  CAF_REQUIRE(!reply);
  CAF_CHECK(reply.error().code == errc::auth_failed);
  // A signature made for another connection does not work on this one either.
  auto other = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(other);
  auto proof =
      crypto::sign(crypto::login_message((*conn)->transcript(), alice.id), alice.prof->sign);
  auto replayed =
      (*other)->request(frame_type::login, encode_body(login_request{alice.id, proof, {}}));
  CAF_REQUIRE(!replayed);
  CAF_CHECK(replayed.error().code == errc::auth_failed);
}

CAF_TEST(tampered and replayed records close the connection) {
  auto alice = make_user(n, "Alice");
  auto expect_decrypt_failure = [](client::connection& conn, const bytes& record) {
    CAF_REQUIRE(conn.write_raw(record));
    auto answer = conn.read_frame(5s);
    CAF_REQUIRE(answer);
    CAF_REQUIRE(answer->type == frame_type::error);
    CAF_CHECK(decode_body<error_body>(answer->body)->code == errc::decrypt_failed);
    CAF_CHECK(!conn.read_frame(5s));
    CAF_CHECK(conn.closed());
  };
  {
    auto conn = client::connection::open("127.0.0.1", n.port(), std::nullopt);
    CAF_REQUIRE(conn);
    auto record = (*conn)->seal_frame(frame{frame_type::whoami, 1, {}});
    record[record.size() / 2] ^= 0x01;
    expect_decrypt_failure(**conn, record);
  }
  {
    reconnect(alice, n);
    auto& conn = alice->conn();
    auto record = conn.seal_frame(frame{frame_type::whoami, 77, {}});
    CAF_REQUIRE(conn.write_raw(record));
    auto first = conn.read_frame(5s);
    CAF_REQUIRE(first);
    CAF_CHECK(first->type == frame_type::login_ok);
    expect_decrypt_failure(conn, record); // the same record again
  }
}

CAF_TEST(a malformed frame barrage does not lose one message of a conversation) {
  auto [alice, bob] = make_friends(n);
  constexpr int messages = 300;
  std::atomic<bool> stop{false};
  std::atomic<int> attacks{0};
  std::thread attacker([&] {
    std::mt19937 rng{42};
    while (!stop && attacks < 400) {
      raw_socket s{n.port()};
      bytes junk;
      switch (attacks % 4) {
      case 0: // random bytes
        for (int i = 0; i < 200; ++i)
          junk.push_back(static_cast<uint8_t>(rng()));
        break;
      case 1: // oversize length
        junk = {0x00, 0x10, 0x00, 0x00, 1, 1, 1};
        break;
      case 2: { // valid hello, then a truncated record, then close
        junk = plain_record(frame_type::client_hello, hello_body(9));
        junk.insert(junk.end(), {0, 0, 0, 50, 1, 2, 3});
        break;
      }
      default: // a frame of the wrong kind first
        junk = plain_record(frame_type::send, bytes(30, 0));
      }
      s.write(junk);
      ++attacks;
    }
  });
  std::set<message_id> sent_ids, received_ids;
  std::optional<failure> receive_error;
  std::thread receiver([&] {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (received_ids.size() < messages && std::chrono::steady_clock::now() < deadline) {
      auto got = bob->receive(200ms);
      if (!got) {
        receive_error = got.error();
        return;
      }
      for (auto& r : *got)
        if (r.kind == client::received::what::text)
          received_ids.insert(r.id);
    }
  });
  for (int i = 0; i < messages; ++i) {
    auto sent = alice->send_text(bob.id, "under fire " + std::to_string(i));
    CAF_REQUIRE(sent);
    sent_ids.insert(*sent);
  }
  receiver.join();
  stop = true;
  attacker.join();
  if (receive_error)
    CAF_FAIL("bob's receive failed: " << receive_error->message);
  CAF_CHECK_GREATER(attacks.load(), 10);
  CAF_CHECK_EQUAL(received_ids.size(), static_cast<size_t>(messages));
  CAF_CHECK(received_ids == sent_ids);
  // The node is still serving newcomers.
  auto carol = make_user(n, "Carol");
  CAF_CHECK(carol->whoami());
}

CAF_TEST(registrations with keys that are not usable points are refused) {
  auto conn = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(conn);
  auto sign = crypto::sign_keypair::generate().pk;
  public_key low_order{}; // the all-zero X25519 point
  auto answer =
      (*conn)->request(frame_type::register_account,
                       encode_body(register_request{"Mallory", "1980-01-01", account_role::parent,
                                                    sign, low_order}));
  CAF_REQUIRE(!answer);
  CAF_CHECK(answer.error().code == errc::invalid_argument);
  CAF_CHECK(!(*conn)->closed()); // a bad field is an error, not a dead session
}

CAF_TEST(a bad field value is invalid_argument and the session lives) {
  auto alice = make_user(n, "Alice");
  // A gender byte outside 0..3, a country of three letters.
  bytes body;
  wire::writer{body}.str("Alice").str("").u8(7).blob(bytes{});
  auto bad_gender = alice->conn().request(frame_type::profile_set, body);
  CAF_REQUIRE(!bad_gender);
  CAF_CHECK(bad_gender.error().code == errc::invalid_argument);
  CAF_CHECK(!alice->conn().closed());
  auto bad_country = alice->profile_set({"Alice", "FRA", gender::unsaid, {}});
  CAF_REQUIRE(!bad_country);
  CAF_CHECK(bad_country.error().code == errc::invalid_argument);
  CAF_CHECK(alice->profile_set({"Alice", "FR", gender::female, {}}));
  // A device field of 65 bytes at login: refused, and the connection may log in again.
  auto conn = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(conn);
  auto proof =
      crypto::sign(crypto::login_message((*conn)->transcript(), alice.id), alice.prof->sign);
  auto long_device = (*conn)->request(
      frame_type::login,
      encode_body(login_request{alice.id, proof, {std::string(65, 'a'), "1.0", "en", "UTC"}}));
  CAF_REQUIRE(!long_device);
  CAF_CHECK(long_device.error().code == errc::invalid_argument);
  CAF_CHECK(!(*conn)->closed());
  auto login =
      (*conn)->request(frame_type::login,
                       encode_body(login_request{alice.id, proof, {"linux", "1.0", "en", "UTC"}}));
  CAF_CHECK(login);
  // A role that is neither child nor parent.
  auto other = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(other);
  auto bad_role = (*other)->request(
      frame_type::register_account,
      encode_body(register_request{"Mallory", "1980-01-01", static_cast<account_role>(9),
                                   crypto::sign_keypair::generate().pk,
                                   crypto::box_keypair::generate().pk}));
  CAF_REQUIRE(!bad_role);
  CAF_CHECK(bad_role.error().code == errc::invalid_argument);
  CAF_CHECK(!(*other)->closed());
}

CAF_TEST(names that are not valid UTF-8 or hide text are refused and the session lives) {
  auto conn = client::connection::open("127.0.0.1", n.port(), std::nullopt);
  CAF_REQUIRE(conn);
  auto sign = crypto::sign_keypair::generate().pk;
  auto box = crypto::box_keypair::generate().pk;
  auto register_as = [&](std::string name) {
    return (*conn)->request(frame_type::register_account,
                            encode_body(register_request{std::move(name), "1980-01-01",
                                                         account_role::parent, sign, box}));
  };
  for (std::string name : {"\xff\xfe\xfd",
                           "Bob\xe2\x80\xae"
                           "evil",
                           "A\xe2\x80\x8b"
                           "B",
                           "A\tB"}) {
    auto answer = register_as(name);
    CAF_REQUIRE(!answer);
    CAF_CHECK(answer.error().code == errc::invalid_argument);
    CAF_CHECK(!(*conn)->closed());
  }
  CAF_CHECK(register_as("Zoë"));
}

CAF_TEST(the SDK refuses a gateway that announces a frame size below the smallest frame) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CAF_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  CAF_REQUIRE(::listen(listener, 1) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread gateway{[listener] {
    int fd = ::accept(listener, nullptr, nullptr);
    uint8_t buf[512];
    CAF_CHECK(::recv(fd, buf, sizeof(buf), 0) > 0); // the client_hello
    auto cluster = crypto::kx_keypair::generate();
    auto ephemeral = crypto::kx_keypair::generate();
    auto hello = plain_record(frame_type::server_hello,
                              encode_body(server_hello{cluster.pk, ephemeral.pk, 16,
                                                       crypto::supported_ciphers().front()}));
    ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    ::recv(fd, buf, sizeof(buf), 0); // until the client closes
    ::close(fd);
  }};
  auto conn = client::connection::open("127.0.0.1", ntohs(addr.sin_port), std::nullopt, 5s);
  CAF_CHECK(!conn);
  if (!conn)
    CAF_CHECK(conn.error().code == errc::malformed_frame);
  conn = failure{errc::internal, "closed"}; // closes the socket the thread waits on
  gateway.join();
  ::close(listener);
}

CAF_TEST_FIXTURE_SCOPE_END()
