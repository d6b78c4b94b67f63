// nxt_ddp --preflight: before a long job, every rank measures its share of the cluster in well
// under a minute (Note [Time-bounded measurements] in preflight/timing.h): the all-reduce sweep
// through the job's own Communicator, its device's compute, its reads of its dataset shard, each
// node's intra-node all-reduce and each link to the next node. Rank 0 gathers the figures,
// prints one row per node, names every node and link below 80% of the median
// (preflight/report.h) and writes run.out_dir/run.name/preflight.json; every rank then exits
// with the same status. docs/cluster.md ("Preflight") says what each figure measures.
#pragma once
#include "common/config.h"
#include "common/mpi_env.h"

namespace nxt {

// Seconds per measurement (--preflight-seconds): five measurements plus start-up keep a rank
// under a minute at the default; the largest value allowed keeps it near one.
inline constexpr double kDefaultPreflightSeconds = 6;
inline constexpr double kMaxPreflightSeconds = 10;

struct PreflightOptions {
  double seconds_per_measurement = kDefaultPreflightSeconds;
};

// Collective over the job (every rank calls it, under MPI): runs the measurements, and on rank 0
// prints the report and writes preflight.json (a failed write is a warning: the printed report
// and the verdict stand). Returns the exit status every rank reaches from the same gathered
// figures: 0 when every figure is within kPreflightThreshold of its median,
// kPreflightBelowMedianStatus (3) when not. Errors (a bad data.path, a rank's failure, a timeout)
// throw nxt::Error naming the key, file or rank, for run_guarded to end the job.
int run_preflight(const Config& config, const PreflightOptions& options, const MpiSession& mpi);

}  // namespace nxt
