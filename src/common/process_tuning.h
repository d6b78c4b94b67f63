// Process-wide settings for throughput that every nxt program wants: buffers kept for reuse by
// the allocator, and OpenCV's own thread pool off (our workers parallelise).
#pragma once

namespace nxt {

// Image and batch buffers (150 KB to tens of MB) sit above glibc's default mmap threshold, so
// each would be an mmap, page faults on first touch and an munmap. This keeps them on the heap,
// where freed blocks are reused, and stops the heap from being trimmed back after each batch.
void keep_large_buffers_for_reuse();

// One OpenCV thread per caller: the loader's and packer's workers already use the cores.
void single_threaded_opencv();

}  // namespace nxt
