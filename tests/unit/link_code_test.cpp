// A parent's link code as a plain class: the secret in range, right once, refused after
// it expires, wrong secrets counted without voiding it, the parent told at the fifth.
#define CAF_SUITE link_code
#include <caf/test/dsl.hpp>
#include <caf/test/unit_test_impl.hpp>

#include "actors/link_code.hpp"

using namespace kinbox;

namespace {

constexpr auto ttl = std::chrono::minutes(10);
constexpr uint64_t t0 = 1'000'000;

} // namespace

CAF_TEST(a secret has at most ten digits and is never zero) {
  for (uint64_t random : {uint64_t{0}, uint64_t{9'999'999'999}, ~uint64_t{0}, uint64_t{42}}) {
    link_code code{random, t0, ttl, "hash"};
    CAF_CHECK(code.secret() >= 1);
    CAF_CHECK(code.secret() < link_code::secret_span);
  }
}

CAF_TEST(the right secret before the code expires redeems it and carries the pin hash) {
  link_code code{42, t0, ttl, "hash"};
  CAF_CHECK(code.attempt(code.secret(), t0 + 1000) == link_code::outcome::right);
  CAF_CHECK_EQUAL(code.pin_hash(), "hash");
  CAF_CHECK_EQUAL(code.expires_ms(), t0 + 600'000);
}

CAF_TEST(an expired code refuses even its right secret) {
  link_code code{42, t0, ttl, "hash"};
  CAF_CHECK(!code.expired(t0 + 599'999));
  CAF_CHECK(code.expired(t0 + 600'000));
  CAF_CHECK(code.attempt(code.secret(), t0 + 600'000) == link_code::outcome::expired);
}

CAF_TEST(wrong secrets leave the code usable and the fifth one is an attack) {
  link_code code{42, t0, ttl, "hash"};
  auto wrong = code.secret() + 1;
  for (uint32_t i = 1; i < link_code::attack_tries; ++i)
    CAF_CHECK(code.attempt(wrong, t0) == link_code::outcome::wrong);
  CAF_CHECK(code.attempt(wrong, t0) == link_code::outcome::attacked);
  CAF_CHECK(code.attempt(wrong, t0) == link_code::outcome::wrong); // told once
  CAF_CHECK(code.attempt(code.secret(), t0) == link_code::outcome::right);
}
