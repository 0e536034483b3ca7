#include "crypto/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kinbox::crypto {

namespace {

constexpr std::string_view header = "kinbox-cluster-key-v1 ";

failure key_error(const std::string& path, const std::string& why) {
  return failure{errc::invalid_argument, "key file '" + path + "': " + why};
}

} // namespace

result<std::string> read_secret_file(const std::string& path, const std::string& what,
                                     size_t max_bytes) {
  auto bad = [&](errc code, const std::string& why) {
    return failure{code, what + " '" + path + "': " + why};
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return bad(errno == ENOENT ? errc::not_found : errc::invalid_argument,
               errno == ELOOP ? "is a symbolic link" : std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return bad(errc::invalid_argument, "not a regular file");
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    ::close(fd);
    return bad(errc::invalid_argument,
               "must be owned by this user and readable by no one else (chmod 600)");
  }
  std::string text;
  char buf[4096];
  for (ssize_t n; text.size() <= max_bytes && (n = ::read(fd, buf, sizeof(buf))) > 0;)
    text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (text.size() > max_bytes) {
    sodium_memzero(text.data(), text.size());
    return bad(errc::invalid_argument, "longer than " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

result<kx_keypair> read_key_file(const std::string& path) {
  auto text = read_secret_file(path, "key file", 1024);
  if (!text)
    return text.error();
  auto line = text->substr(0, text->find('\n'));
  sodium_memzero(text->data(), text->size());
  if (line.rfind(header, 0) != 0)
    return key_error(path, "not a kinbox cluster key");
  kx_keypair kp;
  auto hex = std::string_view{line}.substr(header.size());
  bool ok = from_hex(hex, {kp.sk.data(), kp.sk.size()});
  sodium_memzero(line.data(), line.size());
  if (!ok)
    return key_error(path, "malformed key");
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
