// Implements file reads with named errors and the temp+fsync+rename atomic write.
#include "common/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "common/check.h"

namespace nxt {
namespace {

void write_all(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) throw Error("cannot write '" + path + "': " + errno_text());
    data += written;
    size -= static_cast<size_t>(written);
  }
}

void fsync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // some filesystems refuse to open folders; the rename already happened
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string errno_text(int err) {
  char buffer[256];
  // GNU strerror_r: returns either `buffer` or a static string, never shared mutable state.
  return strerror_r(err, buffer, sizeof buffer);
}

std::string errno_text() {
  return errno_text(errno);
}

std::vector<char> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path + "': " + errno_text());
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string read_file_text(const std::string& path) {
  const std::vector<char> bytes = read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

namespace {
// The last half of an atomic publish: `temp` (complete, synced) renamed over `path`, and the
// folder synced so that the rename survives a crash.
void rename_into_place(const std::string& temp, const std::string& path) {
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    throw Error("cannot rename '" + temp + "' to '" + path + "': " + why);
  }
  const std::filesystem::path target(path);
  fsync_folder(target.has_parent_path() ? target.parent_path().string() : std::string("."));
}
}  // namespace

void publish_temp_file(const std::string& temp, const std::string& path) {
  const int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + temp + "' to fsync it: " + errno_text());
  const bool synced = ::fsync(fd) == 0;
  const std::string reason = synced ? "" : errno_text();
  ::close(fd);
  if (!synced) {
    ::unlink(temp.c_str());
    throw Error("cannot fsync '" + temp + "': " + reason);
  }
  rename_into_place(temp, path);
}

bool publish_as_link(const std::string& existing, const std::string& path,
                     double pause_before_publish_s) {
  const std::string temp = temp_path_for(path);
  ::unlink(temp.c_str());  // a leftover of a killed writer of this pid
  if (::link(existing.c_str(), temp.c_str()) != 0) return false;
  if (pause_before_publish_s > 0)
    std::this_thread::sleep_for(std::chrono::duration<double>(pause_before_publish_s));
  rename_into_place(temp, path);
  return true;
}

void write_file_atomic(const std::string& path, const void* bytes, size_t size,
                       double pause_before_publish_s, unsigned mode) {
  const std::string temp = temp_path_for(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw Error("cannot create '" + temp + "': " + errno_text());
  try {
    write_all(fd, static_cast<const char*>(bytes), size, temp);
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    throw Error("cannot close '" + temp + "': " + errno_text());
  }
  if (pause_before_publish_s > 0)
    std::this_thread::sleep_for(std::chrono::duration<double>(pause_before_publish_s));
  publish_temp_file(temp, path);
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create folder '" + dir + "': " + ec.message());
}

}  // namespace nxt
