// Implements the process-wide tuning with mallopt and OpenCV's thread setting.
#include "common/process_tuning.h"

#include <malloc.h>

#include <opencv2/core.hpp>

namespace nxt {

void keep_large_buffers_for_reuse() {
  // 32 MiB is the largest threshold glibc accepts (a larger value is silently refused).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

void single_threaded_opencv() {
  cv::setNumThreads(1);
}

}  // namespace nxt
