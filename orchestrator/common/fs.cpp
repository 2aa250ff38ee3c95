#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "common/errors.h"

namespace foliolab::common {

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  // A fresh name made by mkstemp (O_CREAT | O_EXCL: never an existing file, never through a
  // symlink someone planted), so that neither another writer of the same path, in this process
  // or another, nor a prepared link can make us write somewhere else.
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw InfraError(fmt::format("cannot create a file beside {}: {}", path.string(), std::strerror(errno)));
  auto fail = [&](const std::string& what) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw InfraError(what);
  };
  ::fchmod(fd, 0644);  // mkstemp makes 0600; results and caches are for every reader
  for (std::size_t done = 0; done < content.size();) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(fmt::format("cannot write {} (disk full?): {}", tmp, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw InfraError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw InfraError(fmt::format("cannot rename {} to {}: {}", tmp, path.string(), std::strerror(err)));
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InfraError(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail_lines(const std::filesystem::path& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += l + "\n";
  return out;
}

std::filesystem::path default_cache_dir() {
  if (const char* c = std::getenv("FOLIOLAB_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "foliolab";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : "/tmp") / ".cache" / "foliolab";
}

TemporaryDirectory::TemporaryDirectory(const std::filesystem::path& parent, std::string_view prefix) {
  std::filesystem::create_directories(parent);
  std::string templ = (parent / fmt::format("{}-XXXXXX", prefix)).string();
  if (::mkdtemp(templ.data()) == nullptr)
    throw InfraError(fmt::format("cannot create a temporary directory in {}: {}", parent.string(), std::strerror(errno)));
  path_ = templ;
}

TemporaryDirectory::~TemporaryDirectory() {
  if (released_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace foliolab::common
