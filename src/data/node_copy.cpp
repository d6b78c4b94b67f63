// Implements data/node_copy.h: the writer's space check, parallel copy, atomic publication and
// failure marker, the waiters' poll for the file or the marker, and the read-only mapping.
#include "data/node_copy.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/check.h"
#include "common/folder_space.h"
#include "common/fs.h"
#include "common/hash.h"

namespace nxt {
namespace {

using Clock = std::chrono::steady_clock;
// How often a waiter looks for the file or the failure marker: the marker's "within a second".
constexpr auto kPollInterval = std::chrono::milliseconds(100);
// The writer copies blocks of consecutive records of about this size, one pwrite each.
constexpr uint64_t kBlockBytes = 8ull << 20;

// The name of the copy: the dataset, the split and the exact images, so that only a file of
// the same bytes is ever taken for it (Note [One copy per node]).
// This node's host name: copies and temp files are per host, so that a data.stage_dir that
// several nodes share (a parallel file system, by mistake) never has two writers on one name.
std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

// The name also carries the packed file's size and modification time: the fingerprint names
// the layout, classes and paths but not the pixels, and a repacked file of the same images must
// not be served from an old copy.
std::string copy_name(const ImageReader& reader, const std::vector<int64_t>& indices) {
  Fnv1a64 images;
  for (int64_t index : indices) images.add_value(index);
  struct stat source {};
  ::stat(reader.dataset().path().c_str(), &source);
  const std::string dataset = Fnv1a64()
                                  .add(reader.dataset().fingerprint())
                                  .add_value(static_cast<int64_t>(source.st_size))
                                  .add_value(static_cast<int64_t>(source.st_mtim.tv_sec))
                                  .add_value(static_cast<int64_t>(source.st_mtim.tv_nsec))
                                  .hex();
  return "nxt-copy-" + host_name() + "-" + dataset.substr(0, 12) + "-" + reader.split() + "-" +
         std::to_string(indices.size()) + "-" + images.hex().substr(0, 12);
}

// The CPUs this process may run on (Slurm's binding), at least 1.
size_t allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return static_cast<size_t>(std::max(1, CPU_COUNT(&set)));
}

// Temp files of writers that no longer run (a killed job on this node): "NAME.tmp.PID".
void remove_dead_writers_temps(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp." + host_name() + ".";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(target.parent_path(), error)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      fs::remove(entry.path(), error);
  }
}

// The failure marker holds the job's identity on its first line and the reason after it.
std::string read_marker(const std::string& path, const std::string& job, bool* ours) {
  std::ifstream in(path);
  if (!in) return {};
  std::string owner;
  std::getline(in, owner);
  *ours = owner == job;
  std::string reason((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return reason;
}

void write_marker(const std::string& path, const std::string& job, const std::string& reason) {
  // Through a temp name, so that a waiter never reads half a reason.
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << job << "\n" << reason;
  }
  std::rename(temp.c_str(), path.c_str());
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

uint64_t size_of_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size) : UINT64_MAX;
}

}  // namespace

uint64_t NodeCopy::bytes_needed(const ImageReader& reader, const std::vector<int64_t>& indices) {
  uint64_t total = 0;
  for (int64_t index : indices) total += reader.stored(index).bytes;
  return total;
}

NodeCopy::NodeCopy(const ImageReader& reader, std::vector<int64_t> indices,
                   const NodeCopyOptions& options)
    : indices_(std::move(indices)), writer_(options.writer) {
  const std::string& who = options.who;
  for (size_t k = 0; k < indices_.size(); ++k)
    NXT_CHECK(indices_[k] >= 0 && indices_[k] < reader.size() &&
                  (k == 0 || indices_[k] > indices_[k - 1]),
              "node copy (", who, "): the images of split '", reader.split(),
              "' must be ascending, distinct and below ", reader.size(), "; position ", k,
              " holds ", indices_[k]);
  offsets_.reserve(indices_.size());
  for (int64_t index : indices_) {
    offsets_.push_back(size_);
    size_ += reader.stored(index).bytes;
  }
  if (indices_.empty()) return;  // nothing to hold: no file (a node whose share is empty)
  NXT_CHECK(!options.dir.empty(), "node copy (", who, "): no folder given");
  path_ = options.dir + "/" + copy_name(reader, indices_);
  const std::string failed = path_ + ".failed";
  const std::string what = "the node copy '" + path_ + "' (" + std::to_string(indices_.size()) +
                           " images of split '" + reader.split() + "' of '" +
                           reader.dataset().path() + "', " + bytes_text(size_) + ")";
  if (writer_) {
    std::remove(failed.c_str());  // an earlier job's; ours is not written yet
    try {
      write(reader, options);
    } catch (const std::exception& e) {
      const std::string reason = who + " could not write " + what + ": " + e.what();
      write_marker(failed, options.job, reason);
      throw Error(reason);
    }
  } else {
    const auto start = Clock::now();
    const auto limit = std::chrono::duration<double>(options.timeout_s);
    for (;;) {
      bool ours = false;
      const std::string reason = read_marker(failed, options.job, &ours);
      if (ours)
        throw Error(who + " gives up waiting for " + what +
                    ": the node's writer failed: " + reason);
      if (size_of_file(path_) == size_) break;
      if (Clock::now() - start > limit)
        throw Error(who + " waited " + seconds_text(options.timeout_s) +
                    " s (dist.rank0_phase_timeout_s) for " + what + ", which " +
                    (options.writer_who.empty() ? "the node's first rank" : options.writer_who) +
                    " writes; it did not appear (is that rank stuck reading the dataset, or "
                    "does data.stage_dir name a folder the node's ranks do not share?)");
      std::this_thread::sleep_for(kPollInterval);
    }
  }
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  NXT_CHECK(fd >= 0, who, ": cannot open ", what, ": ", errno_text());
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file
  NXT_CHECK(map != MAP_FAILED, who, ": cannot map ", what, ": ", errno_text(map_errno));
  map_ = static_cast<const uint8_t*>(map);
}

void NodeCopy::write(const ImageReader& reader, const NodeCopyOptions& options) {
  remove_dead_writers_temps(path_);
  if (size_of_file(path_) == size_) {  // a requeued job's, under a name that fixes its bytes
    reused_ = true;
    return;
  }
  // Space first: a copy that fills /dev/shm takes the node's memory with it.
  const FolderRoom room = folder_room(options.dir);
  NXT_CHECK(room.free_bytes >= size_, "'", options.dir, "' has ", bytes_text(room.free_bytes),
            " free, the copy needs ", bytes_text(size_));
  if (room.memory) {
    // A tenth more than the copy: the ranks' own buffers, pinned batches and CUDA contexts
    // need memory too, and an OOM kill in the middle of the copy helps no one.
    const uint64_t needed = size_ + size_ / 10;
    NXT_CHECK(room.memory_bytes >= needed, "'", options.dir,
              "' is memory (tmpfs) and this job may take ", bytes_text(room.memory_bytes),
              " more (the lower of MemAvailable and its cgroup's "
              "memory.max), the copy needs ",
              bytes_text(size_),
              " plus a tenth for the ranks: "
              "use data.shard_by node (each node holds its share), or data.stage_dir on a "
              "local disk");
  }
  const std::string temp = path_ + ".tmp." + host_name() + "." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  NXT_CHECK(fd >= 0, "cannot create '", temp, "': ", errno_text());
  try {
    // Reserved up front: running out of room fails here, not half way.
    const int reserved = posix_fallocate(fd, 0, static_cast<off_t>(size_));
    NXT_CHECK(reserved == 0, "cannot reserve ", bytes_text(size_), " for '", temp,
              "': ", errno_text(reserved));
    copy_records(reader, fd, temp);
    // Durable before it is published on a disk: a later job would take a file of this name
    // and size for a complete one (tmpfs does not outlive the node's boot).
    if (!is_tmpfs(options.dir))
      NXT_CHECK(::fsync(fd) == 0, "cannot flush '", temp, "': ", errno_text());
    NXT_CHECK(::close(fd) == 0, "cannot write '", temp, "': ", errno_text());
  } catch (...) {
    ::close(fd);
    std::remove(temp.c_str());
    throw;
  }
  if (std::rename(temp.c_str(), path_.c_str()) != 0) {
    const std::string reason = errno_text();
    std::remove(temp.c_str());
    throw Error("cannot rename '" + temp + "' to '" + path_ + "': " + reason);
  }
}

// Blocks of consecutive records, each read into a buffer and written with one pwrite, by a few
// threads: a parallel file system serves concurrent reads faster than one stream.
void NodeCopy::copy_records(const ImageReader& reader, int fd, const std::string& temp) const {
  std::vector<size_t> block_starts{0};
  for (size_t k = 1; k < indices_.size(); ++k)
    if (offsets_[k] - offsets_[block_starts.back()] >= kBlockBytes) block_starts.push_back(k);
  block_starts.push_back(indices_.size());
  const size_t blocks = block_starts.size() - 1;
  const size_t threads = std::min<size_t>(blocks, std::clamp<size_t>(allowed_cpus(), 1, 8));
  std::atomic<size_t> next{0};
  std::mutex failure_mutex;
  std::string failure;
  auto work = [&] {
    std::vector<uint8_t> block, record;
    try {
      for (size_t b = next++; b < blocks; b = next++) {
        const size_t first = block_starts[b], last = block_starts[b + 1];
        const uint64_t start = offsets_[first];
        const uint64_t end = last < indices_.size() ? offsets_[last] : size_;
        block.resize(static_cast<size_t>(end - start));
        for (size_t k = first; k < last; ++k) {
          const ByteView view = reader.bytes(indices_[k], record);
          const uint64_t expected =
              (k + 1 < indices_.size() ? offsets_[k + 1] : size_) - offsets_[k];
          NXT_CHECK(view.size == expected, "image ", indices_[k], " of split '", reader.split(),
                    "' read ", view.size, " bytes, its record says ", expected);
          std::memcpy(block.data() + (offsets_[k] - start), view.data, view.size);
        }
        size_t done = 0;
        while (done < block.size()) {
          const ssize_t wrote = ::pwrite(fd, block.data() + done, block.size() - done,
                                         static_cast<off_t>(start + done));
          NXT_CHECK(wrote > 0, "cannot write '", temp, "' at byte ", start + done, ": ",
                    errno_text());
          done += static_cast<size_t>(wrote);
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (failure.empty()) failure = e.what();
      next = blocks;  // the others stop after their block
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (!failure.empty()) throw Error(failure);
}

NodeCopy::~NodeCopy() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
  // The other ranks' mappings stay valid; the memory goes with the last of them.
  if (writer_ && !path_.empty() && linked_) std::remove(path_.c_str());
}

void NodeCopy::unlink_file() const {
  if (!writer_ || path_.empty() || !linked_) return;
  std::remove(path_.c_str());
  linked_ = false;
}

ByteView NodeCopy::find(int64_t index) const {
  const auto at = std::lower_bound(indices_.begin(), indices_.end(), index);
  if (at == indices_.end() || *at != index) return {};
  const auto k = static_cast<size_t>(at - indices_.begin());
  const uint64_t end = k + 1 < offsets_.size() ? offsets_[k + 1] : size_;
  return {map_ + offsets_[k], static_cast<size_t>(end - offsets_[k])};
}

}  // namespace nxt
