// The cluster's long-term transport key on disk: one line "kinbox-cluster-key-v1 <hex>"
// holding the X25519 secret key, mode 0600. Every node of a cluster reads the same file.
#pragma once

#include <string>

#include "crypto/crypto.hpp"

namespace kinbox::crypto {

/// Reads a file that holds secrets (keys, credentials, a profile): opened without
/// following a symlink, and refused unless it is a regular file owned by this user and
/// readable by no one else. At most `max_bytes` are read. A missing file fails with
/// `not_found`; `what` names the file in the errors.
result<std::string> read_secret_file(const std::string& path, const std::string& what,
                                     size_t max_bytes = 64 * 1024);

/// Reads a key file; fails if it is missing, unreadable, malformed or readable by others.
result<kx_keypair> read_key_file(const std::string& path);

/// Makes a new key and writes it to `path` (which must not exist) with mode 0600.
result<kx_keypair> create_key_file(const std::string& path);

} // namespace kinbox::crypto
