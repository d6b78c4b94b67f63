// Implements the process-wide tuning with mallopt and OpenCV's thread setting, and the oneDNN
// guard for CPUs without cache sizes (Note [oneDNN without cache sizes]).
#include "common/process_tuning.h"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <opencv2/core.hpp>

#include "common/fault_injector.h"
#include "common/fs.h"

namespace nxt {

void keep_large_buffers_for_reuse() {
  // 32 MiB is the largest threshold glibc accepts (a larger value is silently refused).
  // mallopt is not thread-safe: the contract (process_tuning.h) is to call this before nxt starts
  // a thread, which configure_rank and the packer do.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);   // NOLINT(concurrency-mt-unsafe): before any thread
  mallopt(M_TRIM_THRESHOLD, 512 << 20);  // NOLINT(concurrency-mt-unsafe): before any thread
}

std::string run_this_thread_at_lowest_priority() {
  // On Linux a nice value is per thread: PRIO_PROCESS with the thread's id sets this one.
  const auto thread = static_cast<id_t>(::syscall(SYS_gettid));
  return ::setpriority(PRIO_PROCESS, thread, 19) == 0 ? "" : "nice 19 refused: " + errno_text();
}

void single_threaded_opencv() {
  cv::setNumThreads(1);
}

namespace {
bool cpu_reports_cache_sizes() {
  if (FaultInjector::process().hides_cpu_cache_info()) return false;
  std::error_code ignored;
  return sysconf(_SC_LEVEL1_DCACHE_SIZE) > 0 && sysconf(_SC_LEVEL2_CACHE_SIZE) > 0 &&
         std::filesystem::exists("/sys/devices/system/cpu/cpu0/cache/index0", ignored);
}
}  // namespace

std::string avoid_onednn_crash_without_cache_sizes() {
#if !(defined(__x86_64__) || defined(__i386__))
  return "";  // SSE41 names an x86 ISA; the crash was seen on x86 alone
#endif
  // oneDNN reads ONEDNN_MAX_CPU_ISA, then its older name DNNL_MAX_CPU_ISA: either is the user's.
  if (std::getenv("ONEDNN_MAX_CPU_ISA") != nullptr || std::getenv("DNNL_MAX_CPU_ISA") != nullptr ||
      cpu_reports_cache_sizes())
    return "";
  // Before nxt's threads and torch's first convolution (process_tuning.h's contract).
  setenv("ONEDNN_MAX_CPU_ISA", "SSE41", /*overwrite=*/0);  // NOLINT(concurrency-mt-unsafe)
  return "this CPU reports no cache sizes (lscpu shows none), on which oneDNN's convolutions "
         "can crash with SIGFPE: set ONEDNN_MAX_CPU_ISA=SSE41 for this process (slower CPU "
         "convolutions). Set ONEDNN_MAX_CPU_ISA yourself to choose another value";
}

}  // namespace nxt
