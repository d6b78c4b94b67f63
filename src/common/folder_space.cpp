// Implements common/folder_space.h: statvfs, statfs's tmpfs magic, MemAvailable and the cgroup
// v2 memory headroom.
#include "common/folder_space.h"

#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "common/check.h"
#include "common/fs.h"

namespace nxt {
namespace {

constexpr long kTmpfsMagic = 0x01021994;  // TMPFS_MAGIC of linux/magic.h

// /proc/meminfo's MemAvailable in bytes, or 0 when unknown.
uint64_t mem_available() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

// The memory this process's cgroup may still take (cgroup v2 memory.max - memory.current), or
// UINT64_MAX when unlimited or unknown.
uint64_t cgroup_headroom() {
  std::ifstream cgroups("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cgroups, line))
    if (line.rfind("0::", 0) == 0) path = "/sys/fs/cgroup" + line.substr(3);
  if (path.empty()) return UINT64_MAX;
  std::ifstream max_file(path + "/memory.max"), current_file(path + "/memory.current");
  std::string max_text;
  uint64_t current = 0;
  if (!(max_file >> max_text) || max_text == "max" || !(current_file >> current)) return UINT64_MAX;
  const uint64_t limit = std::strtoull(max_text.c_str(), nullptr, 10);
  return limit > current ? limit - current : 0;
}

}  // namespace

bool is_tmpfs(const std::string& dir) {
  struct statfs info {};
  return statfs(dir.c_str(), &info) == 0 && static_cast<long>(info.f_type) == kTmpfsMagic;
}

FolderRoom folder_room(const std::string& dir) {
  struct statvfs space {};
  NXT_CHECK(statvfs(dir.c_str(), &space) == 0, "cannot stat the folder '", dir,
            "': ", errno_text());
  FolderRoom room;
  room.free_bytes = static_cast<uint64_t>(space.f_bavail) * space.f_frsize;
  room.memory = is_tmpfs(dir);
  if (room.memory) {
    const uint64_t available = mem_available();
    room.memory_bytes = std::min(available == 0 ? UINT64_MAX : available, cgroup_headroom());
  }
  return room;
}

std::string bytes_text(uint64_t bytes) {
  char text[32];
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  if (mib >= 1024)
    std::snprintf(text, sizeof text, "%.2f GiB", mib / 1024.0);
  else
    std::snprintf(text, sizeof text, "%.1f MiB", mib);
  return text;
}

}  // namespace nxt
