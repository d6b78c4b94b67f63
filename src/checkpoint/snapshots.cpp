// Implements checkpoint/snapshots.h (Note [In-memory snapshots]): the store's folder, the
// background write with its room check, digest and pruning, the digest-checked read, and the
// `reached` record.
#include "checkpoint/snapshots.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "common/check.h"
#include "common/folder_space.h"
#include "common/fs.h"
#include "common/log.h"

namespace nxt {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr const char* kReachedFile = "reached";
constexpr int kReachedBytes = 21;  // 20 digits and a newline, rewritten in place

std::string snapshot_name(int64_t step, uint64_t digest) {
  char name[64];
  std::snprintf(name, sizeof name, "step-%012" PRId64 "-%016" PRIx64 ".pt", step, digest);
  return name;
}

// A snapshot's step and digest from its file name; false for any other name.
bool parse_snapshot_name(const std::string& name, int64_t* step, uint64_t* digest) {
  int consumed = 0;
  if (std::sscanf(name.c_str(), "step-%" SCNd64 "-%16" SCNx64 ".pt%n", step, digest, &consumed) !=
      2)
    return false;
  return static_cast<size_t>(consumed) == name.size() && name == snapshot_name(*step, *digest);
}

// A folder of this user only: created 0700 when missing; an existing one must be ours and a
// folder (on a /dev/shm shared with other users, a folder someone else made in advance could be
// read by them).
void make_private_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw Error("cannot create folder '" + dir + "': " + errno_text());
  struct stat info {};
  NXT_CHECK(::lstat(dir.c_str(), &info) == 0, "cannot stat '", dir, "': ", errno_text());
  NXT_CHECK(S_ISDIR(info.st_mode) && info.st_uid == ::getuid(), "'", dir,
            "' is not a folder of this user (uid ", ::getuid(),
            "): in-memory snapshots are kept only in folders no one else owns "
            "(train.snapshot_dir)");
  NXT_CHECK(::chmod(dir.c_str(), 0700) == 0, "cannot chmod 0700 '", dir, "': ", errno_text());
}

// Temp files of snapshot writers that no longer run (a killed job step): NAME.tmp.PID.
bool is_dead_writers_temp(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos) return false;
  const long pid = std::strtol(name.c_str() + at + 5, nullptr, 10);
  return pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

uint64_t snapshot_digest(const char* data, size_t size) {
  uint64_t state = kFnvOffset;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, data + i, 8);  // little-endian on every platform nxt builds for
    state = (state ^ word) * kFnvPrime;
  }
  for (; i < size; ++i) state = (state ^ static_cast<unsigned char>(data[i])) * kFnvPrime;
  return state;
}

std::string SnapshotStore::folder_for(const std::string& root, const std::string& run_key,
                                      const std::string& host) {
  return root + "/nxt-snapshots-" + std::to_string(::getuid()) + "/" + run_key + "/" + host;
}

SnapshotStore::SnapshotStore(std::string folder) : folder_(std::move(folder)) {
  const std::filesystem::path path(folder_);
  make_dirs(path.parent_path().parent_path().parent_path().string());  // train.snapshot_dir
  // Another job of this user on the node may remove the empty folders above ours as it ends
  // (remove_all): a folder gone between two steps here is made again.
  for (int attempt = 0;; ++attempt) {
    try {
      make_private_dir(path.parent_path().parent_path().string());
      make_private_dir(path.parent_path().string());
      make_private_dir(folder_);
      break;
    } catch (const Error&) {
      if (attempt == 2) throw;
    }
  }
  remove_dead_writers_temps();
}

void SnapshotStore::remove_dead_writers_temps() const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder_, ec))
    if (is_dead_writers_temp(entry.path().filename().string()))
      std::filesystem::remove(entry.path(), ec);
}

SnapshotStore::~SnapshotStore() {
  wait();
  if (reached_fd_ >= 0) ::close(reached_fd_);
}

bool SnapshotStore::save(CheckpointSnapshot snapshot, int64_t step) {
  if (writer_.busy()) return false;
  wait();
  save_start_ = std::chrono::steady_clock::now();
  writer_.write(
      std::move(snapshot), folder_ + "/" + snapshot_name(step, 0),
      [this, step](const std::vector<char>& bytes) { publish(bytes, step); },
      CheckpointWriter::When::kBackground);
  return true;
}

void SnapshotStore::wait() {
  try {
    writer_.wait();
  } catch (const std::exception& e) {  // its serialisation failed (publish() throws nothing)
    log::warn() << "in-memory snapshot not written: " << e.what();
  }
}

// On the writer's thread: never throws (a snapshot is a protection, not an output).
void SnapshotStore::publish(const std::vector<char>& bytes, int64_t step) {
  const std::string path =
      folder_ + "/" + snapshot_name(step, snapshot_digest(bytes.data(), bytes.size()));
  try {
    remove_dead_writers_temps();
    const FolderRoom room = folder_room(folder_);
    const uint64_t size = bytes.size();
    // The previous snapshot stays until this one is complete; on a tmpfs a tenth more is left
    // to the ranks (as for the node copies: data/node_copy.h).
    const uint64_t needed = size + (room.memory ? size / 10 : 0);
    if (room.free_bytes < size || room.memory_bytes < needed) {
      log::warn() << "in-memory snapshot of step " << step << " skipped: it needs "
                  << bytes_text(needed) << " and '" << folder_ << "' has "
                  << bytes_text(std::min(room.free_bytes, room.memory_bytes))
                  << (room.memory ? " (tmpfs: the memory this job may still take)" : " free")
                  << "; the previous snapshot is kept (train.snapshot_dir)";
      return;
    }
    const auto write_start = std::chrono::steady_clock::now();
    write_file_atomic(path, bytes.data(), bytes.size(), 0, 0600);
    const auto now = std::chrono::steady_clock::now();
    last_write_seconds_ = std::chrono::duration<double>(now - save_start_).count();
    if (!std::exchange(logged_first_, true)) {
      char times[80];
      std::snprintf(times, sizeof times, "%.2f s (writing %.2f s)",
                    std::chrono::duration<double>(now - save_start_).count(),
                    std::chrono::duration<double>(now - write_start).count());
      log::all() << "in-memory snapshot of step " << step << ": " << bytes_text(size)
                 << ", serialised and written in the background in " << times << " to '" << folder_
                 << "'";
    }
  } catch (const std::exception& e) {
    log::warn() << "in-memory snapshot of step " << step << " not written: " << e.what()
                << "; the previous one is kept";
    return;
  }
  // Only now are the older ones removed.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder_, ec)) {
    int64_t other_step = 0;
    uint64_t digest = 0;
    if (parse_snapshot_name(entry.path().filename().string(), &other_step, &digest) &&
        entry.path() != path)
      std::filesystem::remove(entry.path(), ec);
  }
}

std::optional<StoredSnapshot> SnapshotStore::newest(std::vector<std::string>* skipped) const {
  struct Found {
    int64_t step;
    uint64_t digest;
    std::string path;
  };
  std::vector<Found> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder_, ec)) {
    Found f{0, 0, entry.path().string()};
    if (parse_snapshot_name(entry.path().filename().string(), &f.step, &f.digest))
      found.push_back(f);
  }
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.step > b.step; });
  for (const Found& f : found) {
    try {
      std::vector<char> bytes = read_file_bytes(f.path);
      const uint64_t digest = snapshot_digest(bytes.data(), bytes.size());
      if (digest == f.digest) return StoredSnapshot{f.step, f.path, std::move(bytes)};
      char text[40];
      std::snprintf(text, sizeof text, "%016" PRIx64, digest);
      skipped->push_back("snapshot '" + f.path + "' is damaged (" + std::to_string(bytes.size()) +
                         " bytes whose digest is " + text + ", not the one in its name)");
    } catch (const std::exception& e) {
      skipped->push_back("snapshot '" + f.path + "' cannot be read: " + e.what());
    }
  }
  return std::nullopt;
}

void SnapshotStore::mark_reached(int64_t step) {
  const std::string path = folder_ + "/" + kReachedFile;
  if (reached_fd_ < 0) reached_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  char text[kReachedBytes + 1];
  std::snprintf(text, sizeof text, "%020" PRId64 "\n", step);
  // A few bytes at offset 0 of a tmpfs file: one page, written whole; its mtime is the time.
  const bool written =
      reached_fd_ >= 0 && ::pwrite(reached_fd_, text, kReachedBytes, 0) == kReachedBytes;
  if (!written && !std::exchange(reached_failed_, true))
    log::warn() << "cannot record the step reached in '" << path << "': " << errno_text()
                << " (a recovery will not know how many steps were lost)";
}

ReachedStep SnapshotStore::reached() const {
  const std::string path = folder_ + "/" + kReachedFile;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  ReachedStep reached;
  try {
    reached.step = std::strtoll(read_file_text(path).c_str(), nullptr, 10);
  } catch (const std::exception&) {
    return {};
  }
  reached.unix_seconds =
      static_cast<double>(info.st_mtim.tv_sec) + 1e-9 * static_cast<double>(info.st_mtim.tv_nsec);
  return reached;
}

void SnapshotStore::remove_all() {
  wait();
  if (reached_fd_ >= 0) ::close(reached_fd_);
  reached_fd_ = -1;
  std::error_code ec;
  std::filesystem::remove_all(folder_, ec);
  if (ec)
    log::warn() << "cannot remove the in-memory snapshots '" << folder_ << "': " << ec.message();
  const std::filesystem::path run = std::filesystem::path(folder_).parent_path();
  std::filesystem::remove(run, ec);  // each only when empty: other nodes' may share them
  std::filesystem::remove(run.parent_path(), ec);
}

}  // namespace nxt
