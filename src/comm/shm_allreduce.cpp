// Implements the shared-memory all-reduce: segment set-up, the three phases, and the typed
// element loops (plain loops over restrict pointers, which the compiler vectorises).
#include "comm/shm_allreduce.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "common/check.h"

namespace nxt {
namespace {

// Calls action(T{}) with the C++ type of `element`: the one place that maps the enum to types.
template <class Action>
void with_element_type(ShmElement element, Action action) {
  switch (element) {
    case ShmElement::kFloat32:
      return action(float{});
    case ShmElement::kFloat64:
      return action(double{});
    case ShmElement::kInt32:
      return action(int32_t{});
    case ShmElement::kInt64:
      return action(int64_t{});
    case ShmElement::kUInt8:
      return action(uint8_t{});
  }
}

size_t element_size(ShmElement element) {
  size_t size = 1;
  with_element_type(element, [&](auto value) { size = sizeof value; });
  return size;
}

template <class T>
void combine_into(T* __restrict out, const T* __restrict in, int64_t n, ShmCombine combine) {
  switch (combine) {
    case ShmCombine::kSum:
      for (int64_t i = 0; i < n; ++i) out[i] += in[i];
      return;
    case ShmCombine::kMin:
      for (int64_t i = 0; i < n; ++i) out[i] = std::min(out[i], in[i]);
      return;
    case ShmCombine::kMax:
      for (int64_t i = 0; i < n; ++i) out[i] = std::max(out[i], in[i]);
      return;
  }
}

// Rank `owner`'s slice [first, first + n): the combination of all segments in rank order,
// written in place into the owner's segment, block by block (each block is read from every
// segment before it is written; no other rank reads the owner's slice until the next barrier).
template <class T>
void reduce_typed(const std::vector<char*>& segments, int64_t first, int64_t n, ShmCombine combine,
                  int owner) {
  constexpr int64_t kBlock = 4096;
  T accumulator[kBlock];
  T* out = reinterpret_cast<T*>(segments[static_cast<size_t>(owner)]) + first;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t length = std::min(kBlock, n - start);
    std::memcpy(accumulator, reinterpret_cast<const T*>(segments[0]) + first + start,
                static_cast<size_t>(length) * sizeof(T));
    for (size_t k = 1; k < segments.size(); ++k)
      combine_into(accumulator, reinterpret_cast<const T*>(segments[k]) + first + start, length,
                   combine);
    std::memcpy(out + start, accumulator, static_cast<size_t>(length) * sizeof(T));
  }
}

}  // namespace

bool all_ranks_on_this_node(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  NXT_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int node_size = 0, world = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_size(comm, &world);
  MPI_Comm_free(&node);
  int everywhere = node_size == world;
  NXT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &everywhere, 1, MPI_INT, MPI_MIN, comm));
  return everywhere != 0;
}

SharedMemoryAllReduce::SharedMemoryAllReduce(MPI_Comm comm, size_t segment_bytes,
                                             std::chrono::microseconds poll)
    : comm_(comm), segment_bytes_(segment_bytes), poll_(poll) {
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &world_);
  char* mine = nullptr;
  NXT_MPI_CHECK(MPI_Win_allocate_shared(static_cast<MPI_Aint>(segment_bytes), 1, MPI_INFO_NULL,
                                        comm, &mine, &window_));
  for (int r = 0; r < world_; ++r) {
    MPI_Aint size = 0;
    int unit = 0;
    char* base = nullptr;
    NXT_MPI_CHECK(MPI_Win_shared_query(window_, r, &size, &unit, &base));
    segments_.push_back(base);
  }
}

SharedMemoryAllReduce::~SharedMemoryAllReduce() {
  if (!abandoned_ && window_ != MPI_WIN_NULL) MPI_Win_free(&window_);
}

void SharedMemoryAllReduce::barrier() {
  MPI_Request request;
  NXT_MPI_CHECK(MPI_Ibarrier(comm_, &request));
  for (;;) {
    int done = 0;
    NXT_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(poll_);
  }
}

void SharedMemoryAllReduce::all_reduce(void* data, int64_t count, ShmElement element,
                                       ShmCombine combine) {
  const auto size = static_cast<int64_t>(element_size(element));
  const int64_t per_chunk = static_cast<int64_t>(segment_bytes_) / size;
  auto* bytes = static_cast<char*>(data);
  for (int64_t first = 0; first < count; first += per_chunk)
    reduce_chunk(bytes + first * size, std::min(per_chunk, count - first), element, combine);
}

void SharedMemoryAllReduce::reduce_chunk(char* data, int64_t count, ShmElement element,
                                         ShmCombine combine) {
  const auto size = static_cast<int64_t>(element_size(element));
  std::memcpy(segments_[static_cast<size_t>(rank_)], data, static_cast<size_t>(count * size));
  barrier();
  const int64_t slice = (count + world_ - 1) / world_;
  const int64_t first = std::min<int64_t>(rank_ * slice, count);
  const int64_t n = std::min(slice, count - first);
  if (n > 0) {
    with_element_type(element, [&](auto value) {
      reduce_typed<decltype(value)>(segments_, first, n, combine, rank_);
    });
  }
  barrier();
  for (int r = 0; r < world_; ++r) {
    const int64_t from = std::min<int64_t>(r * slice, count);
    const int64_t length = std::min(slice, count - from);
    if (length > 0)
      std::memcpy(data + from * size, segments_[static_cast<size_t>(r)] + from * size,
                  static_cast<size_t>(length * size));
  }
  barrier();  // nobody refills its segment while another rank still reads it
}

}  // namespace nxt
