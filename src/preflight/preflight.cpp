// Implements the preflight's order of measurements, the gathering of every rank's figures on
// rank 0, and the agreed exit status (preflight/preflight.h).
#include "preflight/preflight.h"

#include <chrono>
#include <optional>

#include "comm/communicator.h"
#include "comm/placement.h"
#include "common/check.h"
#include "common/fault_injector.h"
#include "common/fs.h"
#include "common/log.h"
#include "data/image_reader.h"
#include "data/packed_dataset.h"
#include "preflight/bandwidth.h"
#include "preflight/compute_probe.h"
#include "preflight/nodes.h"
#include "preflight/read_probe.h"
#include "preflight/report.h"
#include "preflight/timing.h"

namespace nxt {
namespace {

// Note [Preflight rounds]
// Every rank measures compute, reads, its node's all-reduce and its link in kRounds rounds of a
// third of the budget each, interleaved (compute, reads, node, link; again; again), and keeps
// its best round. A node that is slow, a disk or a link that is bad, is slow in every round; a
// burst of load that another process puts on a node for a second (a shared login node, a
// neighbour's job, the other fake nodes of the tests on the same cores) spoils one round of one
// rank, not its figure. The budget and so the preflight's time stay the same.
constexpr int kRounds = 3;

// Each rank's slots in the gathering all-reduce (rank r fills its own, the others 0).
enum Slot : size_t {
  kComputeImages,
  kComputeGflop,
  kReadMb,
  kReadImages,
  kRingSeconds,     // node leaders with a node ring; 0 elsewhere
  kRingIterations,  // idem
  kLinkBytesPerS,   // node leaders with a next node; 0 elsewhere
  kSlots
};

// One all-reduce of every rank's figures; the results as rank 0 reports them.
PreflightResults gather(Communicator& comm, const NodeTable& nodes, const ComputeFigures& compute,
                        const ReadFigures& read, const std::optional<AllReduceFigure>& ring,
                        const std::optional<double>& link_bytes_per_s) {
  const size_t world = static_cast<size_t>(comm.world_size());
  std::vector<double> table(kSlots * world, 0);
  double* mine = table.data() + kSlots * static_cast<size_t>(comm.rank());
  mine[kComputeImages] = compute.images_per_s;
  mine[kComputeGflop] = compute.gflop_per_s;
  mine[kReadMb] = read.mb_per_s;
  mine[kReadImages] = read.images_per_s;
  if (ring) {
    mine[kRingSeconds] = ring->seconds;
    mine[kRingIterations] = static_cast<double>(ring->iterations);
  }
  mine[kLinkBytesPerS] = link_bytes_per_s.value_or(0);
  table = comm.all_reduce_scalars(table, ReduceOp::kSum);

  PreflightResults results;
  results.nodes = nodes;
  for (size_t r = 0; r < world; ++r) {
    const double* slots = table.data() + kSlots * r;
    results.ranks.push_back(
        {slots[kComputeImages], slots[kComputeGflop], slots[kReadMb], slots[kReadImages]});
  }
  for (int node = 0; node < nodes.nodes(); ++node) {
    const std::vector<int>& ranks = nodes.ranks_of_node[static_cast<size_t>(node)];
    const double* leader = table.data() + kSlots * static_cast<size_t>(ranks.front());
    std::optional<AllReduceFigure> figure;
    if (ranks.size() > 1) {
      figure = AllReduceFigure{kNodeRingBytes, static_cast<int>(ranks.size()),
                               static_cast<int64_t>(leader[kRingIterations]), leader[kRingSeconds]};
    }
    results.node_ring.push_back(figure);
    if (nodes.nodes() > 1) results.link_mb_per_s.push_back(leader[kLinkBytesPerS] / 1e6);
  }
  return results;
}

// Rank 0: preflight.json in the run folder (atomically, as every report there).
void write_report_file(const Config& config, const nlohmann::json& report) {
  const std::string dir = config.run.out_dir + "/" + config.run.name;
  make_dirs(dir);
  const std::string path = dir + "/preflight.json";
  write_file_atomic(path, report.dump(2) + "\n");
  log::info() << "preflight: wrote " << path;
}

}  // namespace

int run_preflight(const Config& config, const PreflightOptions& options, const MpiSession& mpi) {
  const double budget = options.seconds_per_measurement;
  NXT_CHECK(budget > 0 && budget <= kMaxPreflightSeconds, "--preflight-seconds ", budget,
            " is not in (0, ", kMaxPreflightSeconds, "]: it is the time of each of the five ",
            "measurements, and a rank's whole preflight must stay near a minute");
  const ProcessPlace place = mpi.place();
  const FaultInjector faults = FaultInjector::process().for_rank(place.rank, place.world_size);
  const SlowDown slow(faults.slows_preflight());
  const RankCompute compute =
      configure_rank(place, {config.run.device, config.run.threads_per_rank,
                             config.data.loader_threads, config.train.cudnn_benchmark});
  const torch::Device device = compute.device;
  // The dataset before the communicator, so that a wrong data.path fails before NCCL starts.
  NXT_CHECK(!config.data.path.empty(),
            "data.path is empty: the preflight measures reads of the dataset (pack one with "
            "data_tools/pack_hdf5 and set data.path)");
  const PackedDataset dataset(config.data.path);
  NXT_CHECK(dataset.has_split("train"), "'", config.data.path, "' has no train split to read");
  const ImageReader reader(dataset, "train");
  const PreflightLimit limit = preflight_limit(config.dist.timeout_s);
  const CommTimeouts timeouts{limit.seconds,
                              std::chrono::seconds(config.dist.rank0_phase_timeout_s)};
  const std::unique_ptr<Communicator> comm =
      make_communicator(config.dist.backend, device, place, timeouts);
  log::all() << "placement: " << placement_text(place, device, compute.loader_threads, *comm);
  const NodeTable nodes = learn_nodes(*comm);
  nodes.check_matches_mpi("the preflight (its intra-node all-reduce runs over MPI's node)");
  log::info() << "preflight: " << nodes.nodes() << " node(s), " << place.world_size << " rank(s); "
              << budget << " s per measurement, collectives and waits bounded by "
              << limit.seconds.count() << " s (" << limit.key << ")";

  log::info() << "preflight: all-reduce sweep (" << comm->allreduce_path() << ")";
  const std::vector<AllReduceFigure> sweep = all_reduce_sweep(*comm, device, budget);

  // Note [Preflight rounds]: each figure is the best of kRounds rounds of budget / kRounds.
  const double round_budget = budget / kRounds;
  ComputeProbe compute_probe(config, config.model.num_classes.value_or(dataset.num_classes()),
                             device, place.rank, limit);
  ComputeFigures computed;
  ReadFigures read;
  std::optional<AllReduceFigure> ring;
  std::optional<double> link;
  {
    log::info() << "preflight: node and leader communicators";
    // Test hooks (common/fault_injector.h): a rank that never joins the start-up of the node
    // and leader communicators (Note [Node communicators that cannot hang] in
    // preflight/nodes.h), or its node's all-reduce, so that its node's other ranks time out in
    // the node communicator (Note [Bounded node ring]); its peers must end the job after the
    // limit (tests/multinode/preflight_rank_never_arriving.sh).
    faults.before_comm_start();
    const NodeComms node_comms(nodes, place.rank, limit);
    NodeAllReduce node_ring(node_comms.node(), place, device, limit);
    for (int round = 1; round <= kRounds; ++round) {
      log::info() << "preflight: round " << round << " of " << kRounds << ": compute on "
                  << device.str() << ", reads of each rank's shard of " << config.data.path
                  << ", intra-node all-reduce, links to the next node";
      comm->barrier();
      const ComputeFigures compute_round = compute_probe.measure(round_budget, slow);
      if (compute_round.images_per_s > computed.images_per_s) computed = compute_round;
      comm->barrier();
      const ReadFigures read_round = measure_reads(
          reader, {place.rank, place.world_size}, static_cast<uint64_t>(config.run.seed),
          config.data.drop_last, compute.loader_threads, round_budget, slow);
      if (read_round.mb_per_s > read.mb_per_s) read = read_round;
      comm->barrier();
      faults.before_node_ring();
      const std::optional<AllReduceFigure> ring_round = node_ring.measure(round_budget, slow);
      if (ring_round && (!ring || ring_round->seconds < ring->seconds)) ring = ring_round;
      const std::optional<double> link_round =
          link_to_next_node(node_comms.leaders(), place.rank, round_budget, slow, limit);
      if (link_round && (!link || *link_round > *link)) link = link_round;
    }
  }
  log::all() << "preflight: rank " << place.rank << " on "
             << nodes.host_of_node[nodes.node_of_rank[place.rank]] << ": compute "
             << computed.images_per_s << " images/s (" << computed.gflop_per_s << " GFLOP/s, "
             << computed.steps << " steps), reads " << read.mb_per_s << " MB/s, "
             << read.images_per_s << " images/s (" << read.images_read << " images, "
             << read.threads << " thread(s))" << (link ? ", link to the next node " : "")
             << (link ? std::to_string(*link / 1e6) + " MB/s" : "");
  PreflightResults results = gather(*comm, nodes, computed, read, ring, link);

  // Every rank holds the same gathered figures, so every rank reaches the same verdict without
  // another collective: nothing rank 0 does below (printing, writing to a slow or read-only
  // file system) can make the others wait past a deadline, or replace the verdict by a failure.
  const std::vector<PreflightFinding> findings = below_median(results);
  const int status = findings.empty() ? 0 : kPreflightBelowMedianStatus;
  if (place.rank == 0) {
    results.sweep = sweep;
    results.device = device.str();
    results.allreduce_path = comm->allreduce_path();
    results.compute_model = computed.model;
    results.batch = computed.batch;
    results.image_size = computed.image_size;
    results.read_access = read.access;
    results.data_path = config.data.path;
    results.budget_s = budget;
    log::print_out(format_report(results, findings));  // one block: it arrives whole
    try {
      write_report_file(config, report_json(results, findings));
    } catch (const std::exception& e) {
      log::warn() << "preflight: the report above stands, but preflight.json was not written: "
                  << e.what();
    }
  }
  log::all() << "preflight: rank " << place.rank << " exits with status " << status;
  return status;
}

}  // namespace nxt
