// Implements the preflight's verdict, table and JSON (preflight/report.h).
#include "preflight/report.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "common/text_format.h"
#include "preflight/timing.h"

namespace nxt {
namespace {

// One node's figures over its ranks.
struct NodeStats {
  double compute_min = 0, compute_median = 0, gflop_min = 0, read_mb_min = 0, read_images_min = 0;
};

NodeStats node_stats(const PreflightResults& results, int node) {
  std::vector<double> compute, gflop, read_mb, read_images;
  for (const int rank : results.nodes.ranks_of_node.at(static_cast<size_t>(node))) {
    const RankFigures& figures = results.ranks.at(static_cast<size_t>(rank));
    compute.push_back(figures.compute_images_per_s);
    gflop.push_back(figures.compute_gflop_per_s);
    read_mb.push_back(figures.read_mb_per_s);
    read_images.push_back(figures.read_images_per_s);
  }
  NodeStats stats;
  stats.compute_min = *std::min_element(compute.begin(), compute.end());
  stats.compute_median = median_of(compute);
  stats.gflop_min = *std::min_element(gflop.begin(), gflop.end());
  stats.read_mb_min = *std::min_element(read_mb.begin(), read_mb.end());
  stats.read_images_min = *std::min_element(read_images.begin(), read_images.end());
  return stats;
}

// The value a node (or link k) shows for `figure`; nullopt where it has none.
std::optional<double> node_value(const PreflightResults& results, PreflightFigure figure,
                                 int node) {
  switch (figure) {
    case PreflightFigure::kCompute:
      return node_stats(results, node).compute_min;
    case PreflightFigure::kRead:
      return node_stats(results, node).read_mb_min;
    case PreflightFigure::kIntraNode: {
      const auto& ring = results.node_ring.at(static_cast<size_t>(node));
      if (!ring) return std::nullopt;
      return ring->busbw_gbs();
    }
    case PreflightFigure::kLink:
      if (results.link_mb_per_s.empty()) return std::nullopt;
      return results.link_mb_per_s.at(static_cast<size_t>(node));
  }
  return std::nullopt;
}

// The median each node's value is judged against: over all ranks for the per-rank figures,
// over the nodes (links) that have one for the others.
double median_for(const PreflightResults& results, PreflightFigure figure) {
  std::vector<double> values;
  if (figure == PreflightFigure::kCompute || figure == PreflightFigure::kRead) {
    for (const RankFigures& rank : results.ranks)
      values.push_back(figure == PreflightFigure::kCompute ? rank.compute_images_per_s
                                                           : rank.read_mb_per_s);
  } else {
    for (int node = 0; node < results.nodes.nodes(); ++node)
      if (const std::optional<double> value = node_value(results, figure, node))
        values.push_back(*value);
  }
  return median_of(values);
}

const std::string& host(const PreflightResults& results, int node) {
  return results.nodes.host_of_node.at(static_cast<size_t>(node));
}
int next_node(const PreflightResults& results, int node) {
  return (node + 1) % results.nodes.nodes();
}

std::string size_text(int64_t bytes) {
  if (bytes >= (int64_t{1} << 20)) return std::to_string(bytes >> 20) + " MB";
  return std::to_string(bytes >> 10) + " KB";
}

std::string finding_text(const PreflightResults& results, const PreflightFinding& finding) {
  const std::string subject = finding.figure == PreflightFigure::kLink
                                  ? "link " + host(results, finding.node) + " -> " +
                                        host(results, next_node(results, finding.node)) +
                                        " (node " + std::to_string(finding.node) + " -> " +
                                        std::to_string(next_node(results, finding.node)) + ")"
                                  : host(results, finding.node) + " (node " +
                                        std::to_string(finding.node) + ") " +
                                        name_of(finding.figure, kPreflightFigureNames);
  return "below " + std::to_string(static_cast<int>(kPreflightThreshold * 100 + 0.5)) +
         "% of the median: " + subject + ": " + fixed(finding.value, 1) + " " +
         unit_of(finding.figure) + ", median " + fixed(finding.median, 1);
}

std::string optional_text(const std::optional<double>& value, int digits) {
  return value ? fixed(*value, digits) : "-";
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

const char* unit_of(PreflightFigure figure) {
  switch (figure) {
    case PreflightFigure::kCompute:
      return "images/s";
    case PreflightFigure::kRead:
      return "MB/s";
    case PreflightFigure::kIntraNode:
      return "GB/s busbw";
    case PreflightFigure::kLink:
      return "MB/s";
  }
  return "?";
}

std::vector<PreflightFinding> below_median(const PreflightResults& results, double threshold) {
  std::vector<PreflightFinding> findings;
  for (const auto& [figure, name] : kPreflightFigureNames) {
    const double median = median_for(results, figure);
    for (int node = 0; node < results.nodes.nodes(); ++node) {
      const std::optional<double> value = node_value(results, figure, node);
      if (value && *value < threshold * median) findings.push_back({figure, node, *value, median});
    }
  }
  return findings;
}

std::string format_report(const PreflightResults& results,
                          const std::vector<PreflightFinding>& findings) {
  std::ostringstream out;
  const int nodes = results.nodes.nodes();
  out << "preflight: " << nodes << " node(s), " << results.ranks.size() << " rank(s), device "
      << results.device << ", " << fixed(results.budget_s, 1) << " s per measurement\n";
  if (results.sweep.empty()) {
    out << "all-reduce sweep: one rank, nothing to all-reduce\n";
  } else {
    out << "all-reduce sweep through the job's communicator (" << results.allreduce_path << ", "
        << results.sweep.front().ranks << " ranks, float32 sum; algbw = bytes / time, busbw = "
        << "algbw x 2(n-1)/n, as nccl-tests):\n";
    out << std::right << std::setw(10) << "size" << std::setw(8) << "iters" << std::setw(14)
        << "time us" << std::setw(13) << "algbw GB/s" << std::setw(13) << "busbw GB/s"
        << "\n";
    for (const AllReduceFigure& row : results.sweep)
      out << std::setw(10) << size_text(row.bytes) << std::setw(8) << row.iterations
          << std::setw(14) << fixed(row.seconds * 1e6, 1) << std::setw(13)
          << fixed(row.algbw_gbs(), 2) << std::setw(13) << fixed(row.busbw_gbs(), 2) << "\n";
  }
  out << "per node:\n"
      << "  compute: " << results.compute_model << ", " << results.image_size << " px, batch "
      << results.batch << ", forward + backward: images/s of the node's slowest rank (min) and "
      << "of its median rank (med), GFLOP/s of the slowest\n"
      << "  read: random reads of each rank's shard of '" << results.data_path << "' ("
      << results.read_access << "), the node's slowest rank\n"
      << "  intra: all-reduce of " << size_text(kNodeRingBytes) << " over the node's ranks, "
      << "busbw\n"
      << "  link: " << size_text(kLinkBytes) << " messages from the node's first rank to the "
      << "next node's, as sent\n";
  std::vector<std::vector<std::string>> rows = {
      {"node", "host", "ranks", "compute min", "compute med", "GFLOP/s min", "read MB/s",
       "read img/s", "intra GB/s", "next node", "link MB/s"}};
  for (int node = 0; node < nodes; ++node) {
    const NodeStats stats = node_stats(results, node);
    const bool links = !results.link_mb_per_s.empty();
    rows.push_back({std::to_string(node), host(results, node), results.nodes.ranks_text(node),
                    fixed(stats.compute_min, 1), fixed(stats.compute_median, 1),
                    fixed(stats.gflop_min, 2), fixed(stats.read_mb_min, 1),
                    fixed(stats.read_images_min, 0),
                    optional_text(node_value(results, PreflightFigure::kIntraNode, node), 2),
                    links ? "-> " + host(results, next_node(results, node)) : "-",
                    optional_text(node_value(results, PreflightFigure::kLink, node), 1)});
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& cells : rows)
    for (size_t i = 0; i < cells.size(); ++i) widths[i] = std::max(widths[i], cells[i].size());
  for (const auto& cells : rows) {
    for (size_t i = 0; i < cells.size(); ++i)
      out << std::left << std::setw(static_cast<int>(i + 1 < cells.size() ? widths[i] + 2 : 0))
          << cells[i];
    out << "\n";
  }
  if (results.link_mb_per_s.empty()) out << "inter-node links: none (one node)\n";
  const std::string threshold =
      std::to_string(static_cast<int>(kPreflightThreshold * 100 + 0.5)) + "% of the median";
  for (const PreflightFinding& finding : findings) out << finding_text(results, finding) << "\n";
  if (findings.empty())
    out << "preflight: every node and link is within " << threshold << " (exit status 0)\n";
  else
    out << "preflight: " << findings.size() << " figure(s) below " << threshold << " (exit status "
        << kPreflightBelowMedianStatus << ")\n";
  return out.str();
}

nlohmann::json report_json(const PreflightResults& results,
                           const std::vector<PreflightFinding>& findings) {
  nlohmann::json sweep = nlohmann::json::array();
  for (const AllReduceFigure& row : results.sweep)
    sweep.push_back({{"bytes", row.bytes},
                     {"ranks", row.ranks},
                     {"iterations", row.iterations},
                     {"time_us", row.seconds * 1e6},
                     {"algbw_gbs", row.algbw_gbs()},
                     {"busbw_gbs", row.busbw_gbs()}});
  nlohmann::json nodes = nlohmann::json::array();
  for (int node = 0; node < results.nodes.nodes(); ++node) {
    const NodeStats stats = node_stats(results, node);
    const std::optional<double> link = node_value(results, PreflightFigure::kLink, node);
    nodes.push_back(
        {{"node", node},
         {"host", host(results, node)},
         {"ranks", results.nodes.ranks_of_node[static_cast<size_t>(node)]},
         {"compute_images_per_s_min", stats.compute_min},
         {"compute_images_per_s_median", stats.compute_median},
         {"compute_gflop_per_s_min", stats.gflop_min},
         {"read_mb_per_s_min", stats.read_mb_min},
         {"read_images_per_s_min", stats.read_images_min},
         {"intra_node_busbw_gbs",
          optional_json(node_value(results, PreflightFigure::kIntraNode, node))},
         {"link_to_next", link ? nlohmann::json{{"to", host(results, next_node(results, node))},
                                                {"mb_per_s", *link}}
                               : nlohmann::json(nullptr)}});
  }
  nlohmann::json ranks = nlohmann::json::array();
  for (size_t rank = 0; rank < results.ranks.size(); ++rank) {
    const RankFigures& figures = results.ranks[rank];
    ranks.push_back({{"rank", rank},
                     {"node", results.nodes.node_of_rank[rank]},
                     {"compute_images_per_s", figures.compute_images_per_s},
                     {"compute_gflop_per_s", figures.compute_gflop_per_s},
                     {"read_mb_per_s", figures.read_mb_per_s},
                     {"read_images_per_s", figures.read_images_per_s}});
  }
  nlohmann::json below = nlohmann::json::array();
  for (const PreflightFinding& finding : findings)
    below.push_back({{"figure", name_of(finding.figure, kPreflightFigureNames)},
                     {"node", finding.node},
                     {"host", host(results, finding.node)},
                     {"value", finding.value},
                     {"median", finding.median},
                     {"unit", unit_of(finding.figure)}});
  const int status = findings.empty() ? 0 : kPreflightBelowMedianStatus;
  return {{"exit_status", status},
          {"threshold", kPreflightThreshold},
          {"seconds_per_measurement", results.budget_s},
          {"device", results.device},
          {"world_size", results.ranks.size()},
          {"all_reduce_sweep", {{"path", results.allreduce_path}, {"rows", sweep}}},
          {"compute",
           {{"model", results.compute_model},
            {"batch", results.batch},
            {"image_size", results.image_size}}},
          {"read", {{"data_path", results.data_path}, {"access", results.read_access}}},
          {"intra_node_bytes", kNodeRingBytes},
          {"link_bytes", kLinkBytes},
          {"nodes", nodes},
          {"ranks", ranks},
          {"below_median", below}};
}

}  // namespace nxt
