// The preflight's report on rank 0: every rank's and node's figures, the verdict (which nodes
// and links fall below a share of the median) and its two forms, the printed table and
// preflight.json. Pure functions of the gathered figures, without MPI.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common/enum_names.h"
#include "preflight/bandwidth.h"
#include "preflight/nodes.h"

namespace nxt {

// The figures the verdict judges, each against the median of its kind.
enum class PreflightFigure {
  kCompute,    // a node's slowest rank's images/s, against the median over all ranks
  kRead,       // a node's slowest rank's read MB/s, against the median over all ranks
  kIntraNode,  // a node's all-reduce busbw over its own ranks, against the median over nodes
  kLink,       // link k -> k+1's MB/s, against the median over links
};
inline const EnumNames<PreflightFigure> kPreflightFigureNames = {
    {PreflightFigure::kCompute, "compute"},
    {PreflightFigure::kRead, "read"},
    {PreflightFigure::kIntraNode, "intra-node"},
    {PreflightFigure::kLink, "link"}};

// A figure below threshold x median is named; all at or above it: exit status 0, else this.
inline constexpr double kPreflightThreshold = 0.8;
inline constexpr int kPreflightBelowMedianStatus = 3;

// One rank's own measurements.
struct RankFigures {
  double compute_images_per_s = 0;
  double compute_gflop_per_s = 0;
  double read_mb_per_s = 0;
  double read_images_per_s = 0;
};

// Everything rank 0 gathered.
struct PreflightResults {
  NodeTable nodes;
  std::vector<RankFigures> ranks;                         // by rank
  std::vector<std::optional<AllReduceFigure>> node_ring;  // by node; nullopt: one rank there
  std::vector<double> link_mb_per_s;   // link k: node k -> k+1 (the last -> 0); empty: one node
  std::vector<AllReduceFigure> sweep;  // the job's Communicator; empty: one rank
  // What ran, for the headings:
  std::string device;          // rank 0's, e.g. "cpu", "cuda:0"
  std::string allreduce_path;  // Communicator::allreduce_path(): nccl, mpi or shm
  std::string compute_model;   // ComputeFigures::model
  int64_t batch = 0, image_size = 0;
  std::string read_access;  // ImageReader::access_path()
  std::string data_path;
  double budget_s = 0;  // per measurement
};

// A figure below kPreflightThreshold x its median. `node`: the node, or a link's sender.
struct PreflightFinding {
  PreflightFigure figure;
  int node = 0;
  double value = 0, median = 0;
};

// Every figure below threshold x the median of its kind, in node order per kind. A figure
// never falls below its own kind's median when it is the only one (one node, one link).
std::vector<PreflightFinding> below_median(const PreflightResults& results,
                                           double threshold = kPreflightThreshold);

// "images/s", "MB/s", "GB/s busbw": the unit a figure is judged in.
const char* unit_of(PreflightFigure figure);

// The printed report: the sweep (nccl-tests' columns), one row per node, the links, then one
// line per finding ("below 80% of the median: HOST (node K) compute: ...") and the verdict.
std::string format_report(const PreflightResults& results,
                          const std::vector<PreflightFinding>& findings);

// The same as preflight.json (docs/cluster.md, "Preflight").
nlohmann::json report_json(const PreflightResults& results,
                           const std::vector<PreflightFinding>& findings);

}  // namespace nxt
