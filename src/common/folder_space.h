// The room a new file has in a folder: the file system's free space and, on a tmpfs (whose
// files are the node's memory), the memory this process may still take. Used before writing
// the node copies of a dataset (data/node_copy.h) and the in-memory snapshots
// (checkpoint/snapshots.h), so that neither fills /dev/shm and takes the node down with it.
#pragma once
#include <cstdint>
#include <string>

namespace nxt {

struct FolderRoom {
  uint64_t free_bytes = 0;  // statvfs: the blocks free to an unprivileged user
  bool memory = false;      // a tmpfs: files there are memory
  // On a tmpfs: the lower of /proc/meminfo's MemAvailable and the cgroup's memory.max -
  // memory.current (tmpfs pages are charged to the writer's cgroup, which MemAvailable does not
  // show: Slurm's ConstrainRAMSpace); UINT64_MAX elsewhere or when unknown.
  uint64_t memory_bytes = UINT64_MAX;
};

// Throws nxt::Error naming `dir` when it cannot be examined.
FolderRoom folder_room(const std::string& dir);

bool is_tmpfs(const std::string& dir);

// "812.3 MiB" / "4.21 GiB", for messages about files and copies.
std::string bytes_text(uint64_t bytes);

}  // namespace nxt
