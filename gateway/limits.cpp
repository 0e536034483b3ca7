#include "gateway/limits.hpp"

#include <algorithm>
#include <cmath>

namespace kinbox {

namespace {

/// Buckets that refilled are forgotten this often, so the maps hold only active keys.
constexpr auto sweep_every = std::chrono::seconds(60);

} // namespace

std::optional<std::chrono::milliseconds> token_bucket::take(const rate_limit& limit,
                                                            limit_clock::time_point now) {
  if (limit.per_second <= 0)
    return std::nullopt;
  if (tokens_ < 0) {
    tokens_ = limit.burst;
  } else {
    std::chrono::duration<double> elapsed = now - last_;
    tokens_ = std::min(limit.burst, tokens_ + elapsed.count() * limit.per_second);
  }
  last_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return std::nullopt;
  }
  auto wait = std::ceil((1 - tokens_) / limit.per_second * 1000);
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(1.0, wait)));
}

bool token_bucket::full(const rate_limit& limit, limit_clock::time_point now) const {
  if (tokens_ < 0 || limit.per_second <= 0)
    return true;
  std::chrono::duration<double> elapsed = now - last_;
  return tokens_ + elapsed.count() * limit.per_second >= limit.burst;
}

gateway_limits::per_address& gateway_limits::of(const std::string& address) {
  return addresses_[address];
}

void gateway_limits::forget_idle(limit_clock::time_point now) {
  if (now - last_sweep_ < sweep_every)
    return;
  last_sweep_ = now;
  std::erase_if(addresses_, [&](const auto& entry) {
    auto& a = entry.second;
    return a.connections == 0 && a.handshakes.full(config_.handshakes_per_address, now) &&
           a.registrations.full(config_.registrations_per_address, now) &&
           a.code_guesses.full(config_.code_guesses_per_address, now);
  });
  std::erase_if(accounts_, [&](const auto& entry) {
    return entry.second.full(config_.requests_per_account, now);
  });
}

admission gateway_limits::open(const std::string& address) {
  std::lock_guard guard{mutex_};
  forget_idle(limit_clock::now());
  if (connections_ >= config_.connections_total)
    return admission::too_many_total;
  auto& a = of(address);
  if (a.connections >= config_.connections_per_address)
    return admission::too_many_from_address;
  if (a.unauthenticated >= config_.unauthenticated_per_address)
    return admission::too_many_unauthenticated;
  ++connections_;
  ++a.connections;
  ++a.unauthenticated;
  return admission::admitted;
}

void gateway_limits::logged_in(const std::string& address) {
  std::lock_guard guard{mutex_};
  auto& a = of(address);
  a.unauthenticated -= std::min<size_t>(a.unauthenticated, 1);
}

void gateway_limits::closed(const std::string& address, bool was_logged_in) {
  std::lock_guard guard{mutex_};
  connections_ -= std::min<size_t>(connections_, 1);
  auto& a = of(address);
  a.connections -= std::min<size_t>(a.connections, 1);
  if (!was_logged_in)
    a.unauthenticated -= std::min<size_t>(a.unauthenticated, 1);
}

std::optional<std::chrono::milliseconds> gateway_limits::handshake(const std::string& address) {
  std::lock_guard guard{mutex_};
  return of(address).handshakes.take(config_.handshakes_per_address, limit_clock::now());
}

std::optional<std::chrono::milliseconds> gateway_limits::registration(const std::string& address) {
  std::lock_guard guard{mutex_};
  auto now = limit_clock::now();
  if (auto wait = of(address).registrations.take(config_.registrations_per_address, now))
    return wait;
  return node_registrations_.take(config_.registrations_per_node, now);
}

std::optional<std::chrono::milliseconds> gateway_limits::code_guess(const std::string& address) {
  std::lock_guard guard{mutex_};
  return of(address).code_guesses.take(config_.code_guesses_per_address, limit_clock::now());
}

token_bucket gateway_limits::take_account_bucket(account_id account) {
  std::lock_guard guard{mutex_};
  auto i = accounts_.find(account);
  if (i == accounts_.end())
    return {};
  auto bucket = i->second;
  accounts_.erase(i);
  return bucket;
}

void gateway_limits::return_account_bucket(account_id account, token_bucket bucket) {
  std::lock_guard guard{mutex_};
  if (!bucket.full(config_.requests_per_account, limit_clock::now()))
    accounts_.insert_or_assign(account, bucket);
}

} // namespace kinbox
