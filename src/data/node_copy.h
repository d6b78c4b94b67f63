// One copy per node of the stored images a node reads (data.cache_in_memory: in /dev/shm;
// data.stage_dir: on node-local storage), shared by the node's ranks.
//
// Note [One copy per node]
// Eight ranks on a node that each read a dataset into their own memory hold it eight times
// (8 x 252 GB for ImageNet stored raw at 256 px). Here the node's first rank writes the stored
// bytes of the images the node reads (every image of the split, or the node's share with
// data.shard_by node: Note [Node shares] in data/sampler.h) into one file, and every rank of
// the node maps it read-only; the kernel keeps one copy (tmpfs pages, or the page cache of the
// local disk). The file holds the records as stored (JPEG stays JPEG), back to back in
// ascending index order; where each record lies follows from the reader's index, so no table
// is written. It is readable by the job's user only (0600: on a node shared with other users'
// jobs, the images are the user's). It is written under a temporary name (NAME.tmp.HOST.PID,
// reserved in full first with posix_fallocate, filled by a few threads (the rank's allowed CPUs, at
// most 8) in blocks of consecutive records, fsynced on a disk) and then renamed. Its name carries
// the host, the dataset fingerprint, the packed file's size and modification time, the split, the
// count and a hash of the indices, so a file left by an earlier job on the node (a requeued job) is
// only reused when it holds the same bytes, and nodes that share a folder by mistake never write
// one name. Before writing, the writer checks the space (statvfs of the folder; on tmpfs also
// the lower of MemAvailable and its cgroup's memory.max - memory.current, with a tenth to
// spare); a failure, there or while writing, is written to NAME.failed with the job's
// identity, so the other ranks of the node fail with the writer's reason within a second
// instead of waiting out their deadline, and never on a marker an earlier job left. In
// /dev/shm the writer removes the name as soon as every rank of the node has mapped the copy
// (unlink_file), so the memory goes with the job's last rank however it ends; on a stage_dir
// disk the file stays until the copy is dropped (a requeued job may reuse it), and
// cluster/train.sbatch removes the stage folder. A writer also removes the temp files of
// writers on its host that no longer run.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/folder_space.h"  // bytes_text
#include "data/image_reader.h"

namespace nxt {

struct NodeCopyOptions {
  std::string dir;          // /dev/shm or data.stage_dir
  bool writer = false;      // this rank writes the copy (the node's first rank)
  double timeout_s = 3600;  // how long the other ranks wait for it
  std::string who;          // "rank 13 on node2", for the messages
  std::string writer_who;   // "rank 8", the node's writer, for the waiters' messages
  // This job's identity (the same on all its ranks), written into the failure marker: a waiter
  // fails on a marker of its own job only, never on one an earlier, killed job left behind.
  std::string job;
};

class NodeCopy {
 public:
  // Writes (the writer) or waits for (the others) the copy of the images `indices` (ascending,
  // distinct) of `reader`, then maps it read-only. Errors name the file, the sizes and the rank.
  NodeCopy(const ImageReader& reader, std::vector<int64_t> indices, const NodeCopyOptions& options);
  ~NodeCopy();
  NodeCopy(const NodeCopy&) = delete;
  NodeCopy& operator=(const NodeCopy&) = delete;

  // The stored bytes of image `index`, or {nullptr, 0} when the copy does not hold it.
  ByteView find(int64_t index) const;
  const std::string& path() const { return path_; }
  uint64_t size_bytes() const { return size_; }
  int64_t images() const { return static_cast<int64_t>(indices_.size()); }
  // The writer found the complete file already there (a requeued job on the same node).
  bool reused() const { return reused_; }

  // The writer removes the file's name now; every mapping stays valid and the memory goes with
  // the last of them, so a job killed later leaves nothing in /dev/shm. Call it once every rank
  // of the node has mapped the copy (the trainer does, after the copy's collective).
  void unlink_file() const;

  // The bytes a copy of these images takes (the sum of their stored sizes).
  static uint64_t bytes_needed(const ImageReader& reader, const std::vector<int64_t>& indices);

 private:
  void write(const ImageReader& reader, const NodeCopyOptions& options);
  void copy_records(const ImageReader& reader, int fd, const std::string& temp) const;

  std::vector<int64_t> indices_;   // ascending
  std::vector<uint64_t> offsets_;  // of each held image in the file
  std::string path_;
  bool writer_ = false, reused_ = false;
  mutable bool linked_ = true;  // the writer has not removed the name yet (unlink_file)
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace nxt
