#define CAF_SUITE crypto
#include <caf/test/unit_test.hpp>
#include <caf/test/unit_test_impl.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "crypto/crypto.hpp"
#include "crypto/key_file.hpp"
#include "crypto/pin.hpp"
#include "crypto/storage.hpp"
#include "protocol/frame.hpp"

using namespace kinbox;

namespace {

struct fixture {
  fixture() { CAF_REQUIRE(crypto::init()); }
};

std::pair<crypto::session_keys, crypto::session_keys> handshake(const crypto::kx_keypair& cluster) {
  auto client_eph = crypto::kx_keypair::generate();
  auto server_eph = crypto::kx_keypair::generate();
  auto c = crypto::client_session(client_eph, cluster.pk, server_eph.pk);
  auto s = crypto::server_session(cluster, server_eph, client_eph.pk);
  CAF_REQUIRE(c && s);
  return {*c, *s};
}

bytes text(const char* s) {
  return bytes(s, s + std::strlen(s));
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(crypto_tests, fixture)

CAF_TEST(both sides of the handshake derive matching keys and transcript) {
  auto cluster = crypto::kx_keypair::generate();
  auto [c, s] = handshake(cluster);
  CAF_CHECK(sodium_memcmp(c.tx.data(), s.rx.data(), 32) == 0);
  CAF_CHECK(sodium_memcmp(c.rx.data(), s.tx.data(), 32) == 0);
  CAF_CHECK(c.transcript == s.transcript);
  CAF_CHECK(sodium_memcmp(c.tx.data(), c.rx.data(), 32) != 0);
}

CAF_TEST(a client that assumes another cluster key gets different keys) {
  auto cluster = crypto::kx_keypair::generate();
  auto impostor = crypto::kx_keypair::generate();
  auto client_eph = crypto::kx_keypair::generate();
  auto server_eph = crypto::kx_keypair::generate();
  auto c = crypto::client_session(client_eph, cluster.pk, server_eph.pk);
  auto s = crypto::server_session(impostor, server_eph, client_eph.pk);
  CAF_REQUIRE(c && s);
  CAF_CHECK(sodium_memcmp(c->tx.data(), s->rx.data(), 32) != 0);
}

CAF_TEST(records open in order and fail when tampered replayed or reordered) {
  auto cluster = crypto::kx_keypair::generate();
  auto [c, s] = handshake(cluster);
  auto open = [&](crypto::record_channel& ch, const bytes& rec) {
    return ch.open({rec.data(), length_prefix_size},
                   {rec.data() + length_prefix_size, rec.size() - length_prefix_size});
  };
  auto ciphers = crypto::supported_ciphers();
  CAF_REQUIRE(!ciphers.empty());
  CAF_CHECK(ciphers.back() == record_cipher::chacha20_poly1305);
  for (auto cipher : ciphers) {
    CAF_MESSAGE("cipher " << static_cast<int>(cipher));
    crypto::record_channel client{c, cipher}, server{s, cipher};
    bytes r1, r2;
    client.seal(r1, text("first"));
    client.seal(r2, text("second"));
    CAF_CHECK_EQUAL(r1.size(), crypto::record_channel::sealed_size(5));
    {
      crypto::record_channel reordered{s, cipher};
      CAF_CHECK(!open(reordered, r2));
    }
    {
      crypto::record_channel tampered{s, cipher};
      auto bad = r1;
      bad.back() ^= 1;
      CAF_CHECK(!open(tampered, bad));
      auto bad_prefix = r1;
      bad_prefix[3] ^= 1;
      CAF_CHECK(!open(tampered, bad_prefix));
    }
    for (auto other : ciphers)
      if (other != cipher) {
        crypto::record_channel mismatched{s, other};
        CAF_CHECK(!open(mismatched, r1));
      }
    auto p1 = open(server, r1);
    CAF_REQUIRE(p1);
    CAF_CHECK(*p1 == text("first"));
    CAF_CHECK(!open(server, r1)); // replay
    auto p2 = open(server, r2);
    CAF_REQUIRE(p2);
    CAF_CHECK(*p2 == text("second"));
  }
}

CAF_TEST(records interoperate whether or not a side keeps its keys expanded) {
  auto cluster = crypto::kx_keypair::generate();
  auto [c, s] = handshake(cluster);
  for (auto cipher : crypto::supported_ciphers()) {
    crypto::record_channel client{c, cipher}, server{s, cipher};
    for (int i = 0; i < 6; ++i) {
      client.keep_keys_expanded(i % 2 == 0);
      server.keep_keys_expanded(i % 3 == 0);
      bytes rec;
      client.seal(rec, text("record"));
      auto opened = server.open({rec.data(), length_prefix_size},
                                {rec.data() + length_prefix_size, rec.size() - length_prefix_size});
      CAF_REQUIRE(opened);
      CAF_CHECK(*opened == text("record"));
    }
  }
}

CAF_TEST(the server picks the first offered cipher it supports) {
  using rc = record_cipher;
  CAF_CHECK(crypto::pick_cipher(std::vector<rc>{rc::chacha20_poly1305, rc::aes256_gcm}) ==
            rc::chacha20_poly1305);
  CAF_CHECK(crypto::pick_cipher(std::vector<rc>{static_cast<rc>(77), rc::chacha20_poly1305}) ==
            rc::chacha20_poly1305);
  CAF_CHECK(!crypto::pick_cipher(std::vector<rc>{static_cast<rc>(77)}));
  CAF_CHECK(crypto::pick_cipher(crypto::supported_ciphers()) == crypto::supported_ciphers()[0]);
}

CAF_TEST(signatures verify only for the signed message and key) {
  auto alice = crypto::sign_keypair::generate();
  auto bob = crypto::sign_keypair::generate();
  std::array<uint8_t, 32> transcript{};
  auto msg = crypto::login_message(transcript, 1234567890);
  auto sig = crypto::sign(msg, alice);
  CAF_CHECK(crypto::verify(msg, sig, alice.pk));
  CAF_CHECK(!crypto::verify(msg, sig, bob.pk));
  transcript[0] = 1;
  CAF_CHECK(!crypto::verify(crypto::login_message(transcript, 1234567890), sig, alice.pk));
  CAF_CHECK(!crypto::verify(crypto::login_message({}, 1234567891), sig, alice.pk));
}

CAF_TEST(boxes open only for the right sender and recipient) {
  auto alice = crypto::box_keypair::generate();
  auto bob = crypto::box_keypair::generate();
  auto eve = crypto::box_keypair::generate();
  auto sealed = crypto::box_seal(text("secret"), bob.pk, alice);
  auto opened = crypto::box_open(sealed, alice.pk, bob);
  CAF_REQUIRE(opened);
  CAF_CHECK(*opened == text("secret"));
  CAF_CHECK(!crypto::box_open(sealed, alice.pk, eve));
  CAF_CHECK(!crypto::box_open(sealed, eve.pk, bob));
  sealed[30] ^= 1;
  CAF_CHECK(!crypto::box_open(sealed, alice.pk, bob));
  CAF_CHECK(!crypto::box_open(bytes(10, 0), alice.pk, bob));
}

CAF_TEST(box channels interoperate with plain boxes both ways) {
  auto alice = crypto::box_keypair::generate();
  auto bob = crypto::box_keypair::generate();
  auto a_to_b = *crypto::box_channel::make(bob.pk, alice);
  auto b_to_a = *crypto::box_channel::make(alice.pk, bob);
  auto sealed = a_to_b.seal(text("precomputed"));
  auto opened = crypto::box_open(sealed, alice.pk, bob);
  CAF_REQUIRE(opened);
  CAF_CHECK(*opened == text("precomputed"));
  auto back = b_to_a.open(crypto::box_seal(text("plain"), alice.pk, bob));
  CAF_REQUIRE(back);
  CAF_CHECK(*back == text("plain"));
  sealed[40] ^= 1;
  CAF_CHECK(!b_to_a.open(sealed));
}

CAF_TEST(hex round trips and rejects bad input) {
  public_key k;
  k.fill(0xab);
  public_key back;
  CAF_CHECK(crypto::from_hex(crypto::to_hex(k), back));
  CAF_CHECK(back == k);
  CAF_CHECK(!crypto::from_hex("abc", back));
  CAF_CHECK(!crypto::from_hex(std::string(64, 'z'), back));
}

CAF_TEST(key files are made 0600 read back and refused when open to others) {
  auto dir = std::filesystem::temp_directory_path() / ("kinbox-key-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "cluster.key").string();
  auto made = crypto::create_key_file(path);
  CAF_REQUIRE(made);
  struct stat st;
  CAF_REQUIRE(::stat(path.c_str(), &st) == 0);
  CAF_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  auto read = crypto::read_key_file(path);
  CAF_REQUIRE(read);
  CAF_CHECK(read->pk == made->pk);
  CAF_CHECK(!crypto::create_key_file(path)); // never overwritten
  ::chmod(path.c_str(), 0644);
  CAF_CHECK(!crypto::read_key_file(path));
  ::chmod(path.c_str(), 0600);
  // A symlink to a good key file is refused: whoever can write the directory could point
  // it at another file.
  auto link = (dir / "link.key").string();
  std::filesystem::create_symlink(path, link);
  auto linked = crypto::read_key_file(link);
  CAF_REQUIRE(!linked);
  CAF_CHECK(linked.error().message.find("symbolic link") != std::string::npos);
  if (::geteuid() == 0) { // only root can give a file away
    CAF_REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    auto foreign = crypto::read_key_file(path);
    CAF_REQUIRE(!foreign);
    CAF_CHECK(foreign.error().message.find("owned by this user") != std::string::npos);
    CAF_REQUIRE(::chown(path.c_str(), 0, 0) == 0);
  }
  CAF_CHECK(crypto::read_key_file(path));
  std::ofstream{path} << "garbage\n";
  CAF_CHECK(!crypto::read_key_file(path));
  std::filesystem::remove_all(dir);
}

CAF_TEST(message ids start with the time and differ in their random part) {
  auto first = crypto::new_message_id();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto second = crypto::new_message_id();
  auto third = crypto::new_message_id();
  CAF_CHECK(std::lexicographical_compare(first.begin(), first.begin() + 6, second.begin(),
                                         second.begin() + 6));
  CAF_CHECK(second != third);
  uint64_t ms = 0;
  for (size_t i = 0; i < 6; ++i)
    ms = (ms << 8) | second[i];
  auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  CAF_CHECK_LESS_OR_EQUAL(ms, now);
  CAF_CHECK_GREATER(ms + 1000, now);
}

CAF_TEST(pooled random bytes never repeat across refills) {
  std::set<std::array<uint8_t, crypto_box_NONCEBYTES>> nonces;
  for (int i = 0; i < 2000; ++i) { // about twelve refills of the pool
    std::array<uint8_t, crypto_box_NONCEBYTES> n{};
    crypto::random_fill(n);
    nonces.insert(n);
  }
  CAF_CHECK_EQUAL(nonces.size(), 2000u);
  std::vector<uint8_t> big(10000); // larger than the pool: filled over several refills
  crypto::random_fill(big);
  std::set<std::vector<uint8_t>> pieces;
  for (size_t at = 0; at + 32 <= big.size(); at += 32)
    pieces.emplace(big.begin() + static_cast<std::ptrdiff_t>(at),
                   big.begin() + static_cast<std::ptrdiff_t>(at + 32));
  CAF_CHECK_EQUAL(pieces.size(), big.size() / 32);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(keys that are not usable points are refused) {
  auto own = crypto::box_keypair::generate();
  // Low-order points of Curve25519 (0, 1 and one of order 8) and of Ed25519 (the identity).
  public_key zero{};
  public_key one{};
  one[0] = 1;
  public_key order8{};
  CAF_REQUIRE(crypto::from_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                               {order8.data(), order8.size()}));
  for (auto& bad : {zero, one, order8}) {
    CAF_CHECK(!crypto::is_valid_box_key(bad));
    CAF_CHECK(!crypto::box_channel::make(bad, own));
  }
  CAF_CHECK(crypto::is_valid_box_key(own.pk));
  CAF_CHECK(crypto::box_channel::make(own.pk, crypto::box_keypair::generate()));
  auto signer = crypto::sign_keypair::generate();
  CAF_CHECK(crypto::is_valid_sign_key(signer.pk));
  CAF_CHECK(!crypto::is_valid_sign_key(one)); // the identity point, of order 1
  CAF_CHECK(!crypto::is_valid_sign_key(zero));
}

CAF_TEST(PINs anyone would try first are refused as new PINs) {
  for (auto* easy : {"0000", "1111", "9999", "1234", "6789", "0123", "4321", "9876", "3210",
                     "1212", "4545", "1122", "7788", "1004", "2000", "6969", "2580", "2015"})
    CAF_CHECK_EQUAL(easy + std::string(crypto::is_guessable_pin(easy) ? " refused" : " taken"),
                    easy + std::string(" refused"));
  for (auto* fine : {"5827", "7394", "2741", "5813", "9753", "0472", "8316"})
    CAF_CHECK_EQUAL(fine + std::string(crypto::is_guessable_pin(fine) ? " refused" : " taken"),
                    fine + std::string(" taken"));
  CAF_CHECK(crypto::new_pin_problem("12a4"));
  CAF_CHECK(crypto::new_pin_problem("1111"));
  CAF_CHECK(!crypto::new_pin_problem("5827"));
  // Old PINs that are easy still verify: the rule is for new ones.
  crypto::pin_pepper pepper;
  auto hash = crypto::hash_pin("1111", pepper, {1, 8192});
  CAF_REQUIRE(hash);
  CAF_CHECK(crypto::verify_pin(*hash, "1111", pepper));
}

CAF_TEST(records are sealed per account under keys that name no account) {
  crypto::pin_pepper root;
  root.key.fill(3);
  auto secrets = crypto::storage_secrets::derive(root);
  auto key = crypto::hashed_key(secrets, "accounts", "1234567890");
  CAF_CHECK_EQUAL(key.size(), 33u);
  CAF_CHECK(key.find("1234567890") == std::string::npos);
  CAF_CHECK_NOT_EQUAL(key, crypto::hashed_key(secrets, "contacts", "1234567890"));
  crypto::pin_pepper other_root;
  other_root.key.fill(4);
  CAF_CHECK_NOT_EQUAL(key, crypto::hashed_key(crypto::storage_secrets::derive(other_root),
                                              "accounts", "1234567890"));
  auto k = crypto::data_key::generate();
  std::string record = R"({"name":"Mia","birth_date":"2015-04-12"})";
  auto sealed = crypto::seal_record(k, key, {reinterpret_cast<const uint8_t*>(record.data()),
                                              record.size()});
  std::string text(sealed.begin(), sealed.end());
  CAF_CHECK(text.find("Mia") == std::string::npos);
  auto opened = crypto::open_record(k, key, sealed);
  CAF_REQUIRE(opened);
  CAF_CHECK_EQUAL(std::string(opened->begin(), opened->end()), record);
  // Moved to another key, or opened with another account's key: nothing.
  CAF_CHECK(!crypto::open_record(k, crypto::hashed_key(secrets, "accounts", "1"), sealed));
  CAF_CHECK(!crypto::open_record(crypto::data_key::generate(), key, sealed));
  // Data keys are wrapped with the storage secret.
  auto wrapped = crypto::wrap_data_key(secrets, "h00", k);
  auto back = crypto::unwrap_data_key(secrets, "h00", wrapped);
  CAF_REQUIRE(back);
  CAF_CHECK(back->key == k.key);
  CAF_CHECK(!crypto::unwrap_data_key(crypto::storage_secrets::derive(other_root), "h00", wrapped));
}
