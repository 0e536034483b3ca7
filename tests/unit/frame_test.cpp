#define CAF_SUITE frame
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "protocol/messages.hpp"
#include "protocol/wire.hpp"

using namespace kinbox;

namespace {

bytes with_prefix(const bytes& payload) {
  bytes out;
  append_length_prefix(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

template <class T>
T round_trip(const T& x) {
  auto decoded = decode_body<T>(encode_body(x));
  CAF_REQUIRE(decoded);
  return *decoded;
}

message_id some_id() {
  message_id id;
  for (size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<uint8_t>(i * 7);
  return id;
}

} // namespace

CAF_TEST(frames round trip with version type and request id) {
  frame f{frame_type::send, 0xdeadbeef, bytes{1, 2, 3}};
  auto encoded = encode_frame(f);
  CAF_CHECK_EQUAL(encoded.size(), frame_header_size + 3);
  CAF_CHECK_EQUAL(encoded[0], protocol_version);
  auto decoded = decode_frame(encoded);
  CAF_REQUIRE(decoded);
  CAF_CHECK(decoded->type == frame_type::send);
  CAF_CHECK_EQUAL(decoded->request_id, 0xdeadbeefu);
  CAF_CHECK(decoded->body == (bytes{1, 2, 3}));
}

CAF_TEST(bodies round trip) {
  public_key k;
  k.fill(9);
  register_request reg{"Alice", "2015-01-02", account_role::parent, k, k};
  auto r = round_trip(reg);
  CAF_CHECK_EQUAL(r.name, "Alice");
  CAF_CHECK_EQUAL(r.birth_date, "2015-01-02");
  CAF_CHECK(r.role == account_role::parent);
  auto s = round_trip(send_request{42, some_id(), bytes(300, 5)});
  CAF_CHECK_EQUAL(s.to, 42u);
  CAF_CHECK(s.id == some_id());
  CAF_CHECK_EQUAL(s.payload.size(), 300u);
  auto m = round_trip(mail_push{mail_kind::delivered, 7, some_id(), 99, {}});
  CAF_CHECK(m.kind == mail_kind::delivered);
  CAF_CHECK_EQUAL(m.stored_at_ms, 99u);
  contact_list list{{{1, contact_state::friends, "A"}, {2, contact_state::incoming, "B"}}};
  auto l = round_trip(list);
  CAF_REQUIRE_EQUAL(l.entries.size(), 2u);
  CAF_CHECK_EQUAL(l.entries[1].name, "B");
  auto a = round_trip(ack_request{{{mail_kind::message, 77, some_id()}}});
  CAF_REQUIRE_EQUAL(a.keys.size(), 1u);
  CAF_CHECK_EQUAL(a.keys[0].sender, 77u);
  auto st = round_trip(status_reply{5, true, 1234});
  CAF_CHECK(st.online);
  auto h = round_trip(server_hello{k, k, 65536, record_cipher::aes256_gcm});
  CAF_CHECK_EQUAL(h.max_frame_size, 65536u);
  CAF_CHECK(h.cipher == record_cipher::aes256_gcm);
  auto ch =
      round_trip(client_hello{k, {record_cipher::aes256_gcm, record_cipher::chacha20_poly1305}});
  CAF_CHECK(ch.ciphers == (std::vector<record_cipher>{record_cipher::aes256_gcm,
                                                      record_cipher::chacha20_poly1305}));
  CAF_CHECK(!decode_body<client_hello>(bytes(32, 1)));                     // no cipher list
  CAF_CHECK(!decode_body<client_hello>(encode_body(client_hello{k, {}}))); // an empty one
  CAF_CHECK(!decode_body<client_hello>(
      encode_body(client_hello{k, std::vector<record_cipher>(9, record_cipher::aes256_gcm)})));
  auto e = round_trip(error_body{errc::mailbox_full, "full"});
  CAF_CHECK(e.code == errc::mailbox_full);
}

CAF_TEST(frames with a wrong version or unknown type are rejected) {
  auto encoded = encode_frame(frame{frame_type::ok, 1, {}});
  encoded[0] = 2;
  auto v = decode_frame(encoded);
  CAF_REQUIRE(!v);
  CAF_CHECK(v.error().code == errc::unsupported_version);
  encoded[0] = protocol_version;
  encoded[1] = 0x7e;
  auto t = decode_frame(encoded);
  CAF_REQUIRE(!t);
  CAF_CHECK(t.error().code == errc::unknown_type);
  auto short_frame = decode_frame(bytes{1, 4, 0});
  CAF_REQUIRE(!short_frame);
  CAF_CHECK(short_frame.error().code == errc::malformed_frame);
}

CAF_TEST(bodies that are truncated padded or out of range are rejected) {
  auto body = encode_body(send_request{42, some_id(), bytes(10, 1)});
  for (size_t cut = 0; cut < body.size(); ++cut) {
    bytes truncated(body.begin(), body.begin() + static_cast<ptrdiff_t>(cut));
    CAF_CHECK(!decode_body<send_request>(truncated));
  }
  body.push_back(0);
  CAF_CHECK(!decode_body<send_request>(body));
  public_key k{};
  auto reg = encode_body(register_request{"A", "2015-01-01", account_role::child, k, k});
  reg[4 + 1 + 4 + 10] = 9; // role byte after name and birth date: a bad value, not a bad frame
  auto bad_role = decode_body<register_request>(reg);
  CAF_REQUIRE(bad_role);
  CAF_CHECK_EQUAL(static_cast<int>(bad_role->role), 9);
  auto long_name =
      encode_body(register_request{std::string(65, 'x'), "2015-01-01", account_role::child, k, k});
  CAF_CHECK(!decode_body<register_request>(long_name));
  bytes huge_count;
  wire::writer{huge_count}.u16(static_cast<uint16_t>(max_ack_keys + 1));
  CAF_CHECK(!decode_body<ack_request>(huge_count));
  bytes bad_kind;
  wire::writer{bad_kind}.u16(1).u8(15).u64(1).fixed(some_id());
  CAF_CHECK(!decode_body<ack_request>(bad_kind));
  auto push = encode_body(mail_push{mail_kind::message, 1, some_id(), 2, {}});
  push[0] = 0;
  CAF_CHECK(!decode_body<mail_push>(push));
  bytes bogus_list;
  wire::writer{bogus_list}.u32(0xffffffff);
  CAF_CHECK(!decode_body<contact_list>(bogus_list));
}

CAF_TEST(the record reader cuts records across arbitrary splits) {
  bytes stream;
  for (uint8_t i = 1; i <= 3; ++i) {
    auto r = with_prefix(bytes(i * 10, i));
    stream.insert(stream.end(), r.begin(), r.end());
  }
  record_reader reader{1024};
  std::vector<bytes> got;
  for (auto b : stream) {
    reader.append({&b, 1});
    for (;;) {
      auto next = reader.next();
      CAF_REQUIRE(next);
      if (!*next)
        break;
      got.emplace_back((*next)->payload.begin(), (*next)->payload.end());
    }
  }
  CAF_REQUIRE_EQUAL(got.size(), 3u);
  CAF_CHECK_EQUAL(got[2].size(), 30u);
  CAF_CHECK_EQUAL(reader.buffered(), 0u);
}

CAF_TEST(an idle reader gives its buffer back and keeps working) {
  record_reader reader{1 << 20};
  auto big = with_prefix(bytes(64 * 1024, 7));
  reader.append(big);
  auto rec = reader.next();
  CAF_REQUIRE(rec && *rec);
  CAF_CHECK_EQUAL((*rec)->payload.size(), 64u * 1024);
  reader.release_if_idle();
  CAF_CHECK_EQUAL(reader.buffered(), 0u);
  auto small = with_prefix(bytes(10, 3));
  reader.append(small);
  auto again = reader.next();
  CAF_REQUIRE(again && *again);
  CAF_CHECK((*again)->payload[0] == 3);
}

CAF_TEST(oversize and empty records are refused at the prefix) {
  record_reader reader{1024};
  bytes prefix;
  append_length_prefix(prefix, 1025);
  reader.append(prefix);
  auto big = reader.next();
  CAF_REQUIRE(!big);
  CAF_CHECK(big.error().code == errc::frame_too_large);
  record_reader empty_reader{1024};
  bytes zero{0, 0, 0, 0};
  empty_reader.append(zero);
  auto empty = empty_reader.next();
  CAF_REQUIRE(!empty);
  CAF_CHECK(empty.error().code == errc::malformed_frame);
}

CAF_TEST(a truncated record waits for more bytes) {
  record_reader reader{1024};
  auto r = with_prefix(bytes(20, 1));
  reader.append({r.data(), 10});
  auto next = reader.next();
  CAF_REQUIRE(next);
  CAF_CHECK(!*next);
  CAF_CHECK_EQUAL(reader.buffered(), 10u);
}

CAF_TEST(every error code has a name and a description) {
  for (uint16_t n = 1; n <= 34; ++n) {
    CAF_CHECK(errc_known(n));
    CAF_CHECK_NOT_EQUAL(errc_name(static_cast<errc>(n)), "unknown");
  }
  CAF_CHECK(!errc_known(0));
  CAF_CHECK(!errc_known(35));
  CAF_CHECK(errc_retryable(errc::mailbox_full));
  CAF_CHECK(!errc_retryable(errc::auth_failed));
}
