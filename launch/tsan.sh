#!/usr/bin/env bash
# ThreadSanitizer over nxt's concurrency units: builds Debian's-LibTorch nxt with
# NXT_SANITIZE=thread into build-tsan/ (the tsan preset of CMakePresets.json), then runs
#   - the watchdog, its monitor and the flight recorder; the one-call-at-a-time guard;
#   - the async checkpoint writer;
#   - the loader pipeline (workers, prefetch, shuffling) and the node copy;
#   - under mpirun with 2 and 3 ranks, the MPI communication thread, the reducer's autograd
#     hooks and the shared-memory all-reduce (nxt_mpi_tests).
# Suppressions (uninstrumented LibTorch, OpenMP, Open MPI) and why each is safe:
# src/common/sanitizer_defaults.cpp, Note [Sanitizer suppressions]. Not in CI: a second
# sanitized build costs ~20 min there; run it when a thread, lock or queue changes.
#   launch/tsan.sh [extra gtest filter]   e.g. launch/tsan.sh 'LoaderTest.*'
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${NXT_TSAN_BUILD_DIR:-build-tsan}
NXT_TORCH=debian NXT_BUILD_DIR="$build_dir" NXT_BUILD_TARGETS="nxt_tests nxt_mpi_tests" \
  bash launch/build.sh -DNXT_SANITIZE=thread
units='FlightRecorder.*:Watchdog.*:WatchdogDeathTest.*:ExclusiveCalls.*:CheckpointWriter.*'
units+=':LoaderTest.*:AspectLoaderTest.*:RandomEraseLoaderTest.*:NodeCopyTest.*:NodeShares.*'
units+=':HostSyncs.*'
status=0
echo "===== tsan: the concurrency units"
"$build_dir/bin/nxt_tests" --gtest_filter="${1:-$units}" || status=1
for ranks in 2 3; do
  echo "===== tsan: nxt_mpi_tests under mpirun -np $ranks"
  launch/nxt_mpirun -np "$ranks" "$build_dir/bin/nxt_mpi_tests" || status=1
done
echo "===== tsan: $([[ $status == 0 ]] && echo PASS || echo FAIL)"
exit $status
