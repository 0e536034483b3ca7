#include "crypto/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace kinbox::crypto {

namespace {

constexpr std::string_view header = "kinbox-cluster-key-v1 ";

failure key_error(const std::string& path, const std::string& why) {
  return failure{errc::invalid_argument, "key file '" + path + "': " + why};
}

} // namespace

result<kx_keypair> read_key_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return key_error(path, std::strerror(errno));
  if ((st.st_mode & 077) != 0)
    return key_error(path, "readable by group or others; chmod 600 it");
  std::ifstream in{path};
  std::string line;
  if (!std::getline(in, line) || line.rfind(header, 0) != 0)
    return key_error(path, "not a kinbox cluster key");
  kx_keypair kp;
  auto hex = std::string_view{line}.substr(header.size());
  if (!from_hex(hex, {kp.sk.data(), kp.sk.size()}))
    return key_error(path, "malformed key");
  sodium_memzero(line.data(), line.size());
  if (crypto_scalarmult_base(kp.pk.data(), kp.sk.data()) != 0)
    return key_error(path, "invalid key");
  return kp;
}

result<kx_keypair> create_key_file(const std::string& path) {
  auto kp = kx_keypair::generate();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return key_error(path, std::strerror(errno));
  auto line = std::string{header} + to_hex({kp.sk.data(), kp.sk.size()}) + "\n";
  auto written = ::write(fd, line.data(), line.size());
  sodium_memzero(line.data(), line.size());
  bool ok = written == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    return key_error(path, "could not be written");
  return kp;
}

} // namespace kinbox::crypto
