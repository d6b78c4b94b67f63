// Process-wide settings that every nxt program wants: buffers kept for reuse by the allocator,
// OpenCV's own thread pool off (our workers parallelise), and oneDNN kept off the code paths that
// crash on CPUs that report no cache sizes.
#pragma once
#include <string>

namespace nxt {

// Image and batch buffers (150 KB to tens of MB) sit above glibc's default mmap threshold, so
// each would be an mmap, page faults on first touch and an munmap. This keeps them on the heap,
// where freed blocks are reused, and stops the heap from being trimmed back after each batch.
// Call before this process starts a thread of its own (mallopt is not thread-safe).
void keep_large_buffers_for_reuse();

// One OpenCV thread per caller: the loader's and packer's workers already use the cores.
void single_threaded_opencv();

// Note [Background work at idle priority]
// A thread that works beside training (rank 0's checkpoint writer: pickling, copying and writing
// hundreds of MB) must not take a core from the step. On a CPU rank every core runs compute
// threads, and the writer started at an epoch's end used to run beside the next epoch's first
// steps (docs/performance.md). At nice 19 the thread weighs 15 against a normal thread's 1024:
// on a busy core it gets about 1.5%, so it never starves outright, and it gets the whole core
// when a compute thread waits or when the training thread itself waits for the write (the next
// checkpoint, a stop signal's, the end of the run). SCHED_IDLE was rejected: an unprivileged
// thread cannot leave it, and a write starved by spinning OpenMP or loader threads would hold a
// preempted job's last checkpoint past Slurm's KillWait. Raising one's own nice value needs no
// privilege. Returns "" or why the kernel refused.
std::string run_this_thread_at_lowest_priority();

// Note [oneDNN without cache sizes]: some virtual machines report no CPU cache sizes (`lscpu`
// shows none: no /sys/devices/system/cpu/cpu0/cache, sysconf's cache sizes 0). oneDNN sizes its
// convolution blocks from the caches, and on such an AMD EPYC torch 2.6's oneDNN 3.6 divides by
// zero (SIGFPE) in convolution backward; limiting it to SSE4.1 kernels avoids that path (AVX2
// does not). On x86, when the caches are unreported and neither ONEDNN_MAX_CPU_ISA nor
// DNNL_MAX_CPU_ISA is set, this sets ONEDNN_MAX_CPU_ISA to
// SSE41 (before the first convolution: oneDNN reads it once) and returns a warning that says so
// and how to override it; otherwise it returns "". NXT_ASSUME_NO_CPU_CACHE_INFO=1 makes it act as
// on such a machine (the test's hook).
// Call before this process starts a thread of its own (setenv is not thread-safe).
std::string avoid_onednn_crash_without_cache_sizes();

}  // namespace nxt
