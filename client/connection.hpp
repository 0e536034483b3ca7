// One encrypted connection to a kinbox gateway, blocking, for the client SDK, the CLI,
// tests and benchmarks. Not thread-safe: one thread uses a connection.
//
// It performs the handshake (and refuses a gateway whose cluster key is not the pinned
// one), seals every frame, numbers requests, and keeps pushed mail that arrives while a
// request waits for its answer, so `request` and `next_push` can be mixed freely.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/crypto.hpp"
#include "protocol/messages.hpp"

namespace kinbox::client {

using std::chrono::milliseconds;

/// A blocking TCP connection with TCP_NODELAY, bound to `source` when it is not empty;
/// -1 with `error` set when none of the host's addresses answers.
int connect_tcp(const std::string& host, uint16_t port, const std::string& source,
                std::string& error);

class connection {
public:
  /// Connects and runs the handshake. With `pinned_key`, a gateway presenting another
  /// key is refused with key_mismatch; without, the presented key is accepted (and
  /// available through `cluster_key()` for pinning). A non-empty `source` binds the local
  /// end to that IP address (more than one address's worth of ports to one gateway).
  [[nodiscard]] static result<std::unique_ptr<connection>>
  open(const std::string& host, uint16_t port, std::optional<public_key> pinned_key,
       milliseconds timeout = milliseconds(10000), const std::string& source = {});

  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  const public_key& cluster_key() const { return cluster_key_; }
  const std::array<uint8_t, 32>& transcript() const { return transcript_; }

  /// The longest record the gateway accepts (from its hello).
  size_t max_frame_size() const { return max_frame_size_; }

  /// Sends a request and waits for its answer. An `error` answer becomes a failure; a
  /// `bye` or a closed connection too (and the connection is unusable afterwards). A
  /// request longer than the gateway's `max_frame_size` is `frame_too_large`, unsent.
  [[nodiscard]] result<frame> request(frame_type type, bytes body,
                                      milliseconds timeout = milliseconds(10000));

  /// The next pushed mail, waiting up to `timeout`; nullopt when none came.
  [[nodiscard]] result<std::optional<mail_push>> next_push(milliseconds timeout);

  /// Writes raw bytes to the socket (for protocol tests).
  bool write_raw(std::span<const uint8_t> data);

  /// Seals and writes one frame (after any queued ones) without waiting for an answer.
  bool write_frame(const frame& f);

  /// Seals one frame into the output buffer without writing it, so frames sent back to
  /// back leave in one write: at the next `flush` or `write_frame`, or before the
  /// connection waits for input.
  void queue_frame(const frame& f);

  /// Writes the queued frames; false if the connection is closed.
  bool flush();

  /// The record `write_frame` would write (it advances the send counter), for protocol
  /// tests that corrupt or replay records; frames sent together go through `queue_frame`.
  bytes seal_frame(const frame& f);

  /// Reads the next frame of any kind (for protocol tests).
  [[nodiscard]] result<frame> read_frame(milliseconds timeout);

  bool closed() const { return fd_ < 0; }

  /// The gateways a `redirect` from the gateway named (the node is leaving), if it sent one.
  const std::vector<std::string>& redirected_to() const { return redirected_to_; }

  uint32_t next_request_id() { return next_request_id_++; }

private:
  connection() = default;
  result<frame> read_one(milliseconds timeout);
  failure close_with(failure f);
  /// Closes after a `bye` or `redirect` and says why.
  failure goodbye(const frame& f);

  int fd_ = -1;
  public_key cluster_key_{};
  std::array<uint8_t, 32> transcript_{};
  size_t max_frame_size_ = default_max_frame_size;
  std::optional<crypto::record_channel> channel_;
  record_reader reader_{max_max_frame_size};
  bytes out_; ///< sealed records queued, not written yet
  std::deque<mail_push> pushes_;
  std::vector<std::string> redirected_to_;
  uint32_t next_request_id_ = 1;
};

} // namespace kinbox::client
