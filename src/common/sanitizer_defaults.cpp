// The sanitizer runtimes' default options and suppressions, compiled into every program and test
// binary of a sanitized build (NXT_SANITIZE, cmake/NxtSanitize.cmake) and nowhere else. The
// runtimes call these hooks before main; ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS and
// TSAN_OPTIONS in the environment still override them.
//
// Note [Sanitizer suppressions]
// LibTorch, Open MPI, HDF5 and the OpenMP runtime are not instrumented. A suppression is written
// only where the report's every frame is in such a library (or its cause is one, named below),
// and each says why ignoring it is safe. A report with an nxt frame in it is a finding to fix,
// never to suppress.

extern "C" {

// ASan: abort (not exit) so that gtest death tests and mpirun see a signal, and catch the
// init-order bugs that static registries (config schema, enum tables) could have.
const char* __asan_default_options() {
  return "abort_on_error=1:check_initialization_order=1:strict_init_order=1:"
         "detect_stack_use_after_return=0:print_suppressions=0";
}

// UBSan: stop at the first finding, with the stack that led there.
const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1";
}

// Declared here, not through <mpi.h>: this file has no include paths of its own, and every nxt
// binary links MPI.
int MPI_Initialized(int* flag);

// LeakSanitizer runs at exit of every process ASan instruments, except those that initialised
// MPI. Open MPI, the plugins it loads and the libraries under it (libevent, hwloc, PMIx) keep
// allocations from MPI_Init past MPI_Finalize by design, ~90 of them per rank, and their stacks
// end in uninstrumented frames, so no suppression could tell theirs from a leak of nxt's. The
// cost: a leak in the MPI programs (nxt_mpi_tests: communicator, reducer, replicas) goes
// unreported; it would have to grow with every step to matter, and the e2e tests' runs would show
// that as memory. ASan's memory-error checks (overflows, use after free) stay on everywhere.
int __lsan_is_turned_off() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  return initialized;
}

// TSan (NXT_SANITIZE=thread, launch/tsan.sh).
const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1:print_suppressions=0";
}

// Lock-order reports only, each within one library that keeps its own lock discipline; no data
// race is suppressed.
const char* __tsan_default_suppressions() {
  return
      // GDAL (loaded by OpenCV's imgcodecs, the test images' writer): CPLCreateOrAcquireMutex
      // takes its global holder mutex and an object's mutex in both orders, by design (it creates
      // the object's mutex under the holder); every frame of both orders is in GDAL, and nxt
      // holds no lock around cv::imwrite.
      "deadlock:libgdal.so\n"
      // Open MPI's BTLs (tcp at MPI_Init/Finalize, vader in every send) nest their endpoint and
      // fragment locks in both orders within one thread: TSan's potential cycle, never a wait
      // between two threads. nxt calls MPI from one thread at a time while training (the
      // communication thread) and holds none of its own locks inside an MPI call.
      "deadlock:/openmpi/\n"
      "deadlock:libmpi.so\n"
      "deadlock:libopen-pal.so\n"
      "deadlock:libopen-rte.so\n";
}

}  // extern "C"
