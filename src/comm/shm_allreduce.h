// All-reduce through one shared-memory segment per rank, for jobs whose ranks all share a node
// (every CPU run on one machine). Open MPI's own all-reduce here moves 100 MB at ~0.3 GB/s
// (fragmented copies through its FIFOs, temporary buffers faulted in on every call); this path
// runs at memory speed instead (docs/performance.md).
//
// Per chunk: each rank copies its data into its segment; barrier; rank r reduces slice r over
// all segments, in rank order, in place in its own segment; barrier; every rank copies all
// slices back out; barrier. Each element is reduced once, by one rank, in a fixed order, so
// every rank gets the same bits. MPI is used for the segment (MPI_Win_allocate_shared) and the
// barriers only. Not thread-safe: the MPI communicator's thread is its only caller.
#pragma once
#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nxt {

enum class ShmElement { kFloat32, kFloat64, kInt32, kInt64, kUInt8 };
enum class ShmCombine { kSum, kMin, kMax };

class SharedMemoryAllReduce {
 public:
  // Collective over `comm`, whose ranks must all be on this node.
  SharedMemoryAllReduce(MPI_Comm comm, size_t segment_bytes, std::chrono::microseconds poll);
  ~SharedMemoryAllReduce();  // collective (MPI_Win_free)
  SharedMemoryAllReduce(const SharedMemoryAllReduce&) = delete;
  SharedMemoryAllReduce& operator=(const SharedMemoryAllReduce&) = delete;

  void all_reduce(void* data, int64_t count, ShmElement element, ShmCombine combine);

  // Leaves the window allocated (used when the process is about to be aborted).
  void abandon() { abandoned_ = true; }

 private:
  void barrier();
  void reduce_chunk(char* data, int64_t count, ShmElement element, ShmCombine combine);

  MPI_Comm comm_;
  MPI_Win window_ = MPI_WIN_NULL;
  int rank_ = 0, world_ = 1;
  size_t segment_bytes_ = 0;
  std::vector<char*> segments_;  // every rank's segment, mapped into this process
  std::chrono::microseconds poll_;
  bool abandoned_ = false;
};

// Whether all ranks of `comm` share this node (then the shared-memory path can be used).
bool all_ranks_on_this_node(MPI_Comm comm);

}  // namespace nxt
