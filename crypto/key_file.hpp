// The cluster's long-term transport key on disk: one line "kinbox-cluster-key-v1 <hex>"
// holding the X25519 secret key, mode 0600. Every node of a cluster reads the same file.
#pragma once

#include <string>

#include "crypto/crypto.hpp"

namespace kinbox::crypto {

/// Reads a key file; fails if it is missing, unreadable, malformed or readable by others.
result<kx_keypair> read_key_file(const std::string& path);

/// Makes a new key and writes it to `path` (which must not exist) with mode 0600.
result<kx_keypair> create_key_file(const std::string& path);

} // namespace kinbox::crypto
