// The preflight's pure parts on made-up figures: the verdict (which nodes and links fall below
// 80% of the median, and which do not), nccl-tests' bus factor, the median, the node table's
// rank ranges and its check against MPI's nodes, the printed table and preflight.json, the
// time-bounded loop's step count, and the limit on the preflight's waits and its name.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "comm/node_table.h"
#include "common/check.h"
#include "preflight/report.h"
#include "preflight/timing.h"

namespace nxt {
namespace {

// `hosts[r]` is rank r's host; ranks of one host are consecutive here.
NodeTable table_of(const std::vector<std::string>& hosts) {
  NodeTable nodes;
  for (size_t r = 0; r < hosts.size(); ++r) {
    const auto known = std::find(nodes.host_of_node.begin(), nodes.host_of_node.end(), hosts[r]);
    const int node = static_cast<int>(known - nodes.host_of_node.begin());
    if (known == nodes.host_of_node.end()) {
      nodes.host_of_node.push_back(hosts[r]);
      nodes.ranks_of_node.emplace_back();
    }
    nodes.mpi_local_rank.push_back(static_cast<int>(nodes.ranks_of_node[node].size()));
    nodes.ranks_of_node[node].push_back(static_cast<int>(r));
    nodes.node_of_rank.push_back(node);
    nodes.host_of_rank.push_back(hosts[r]);
  }
  for (size_t r = 0; r < hosts.size(); ++r)
    nodes.mpi_local_size.push_back(
        static_cast<int>(nodes.ranks_of_node[nodes.node_of_rank[r]].size()));
  return nodes;
}

// 3 nodes x 2 ranks, every figure 100 (links 1000 MB/s, intra-node 10 GB/s), then edited.
PreflightResults healthy_cluster() {
  PreflightResults results;
  results.nodes = table_of({"n0", "n0", "n1", "n1", "n2", "n2"});
  results.ranks.assign(6, {100, 50, 100, 100});
  // busbw = bytes / seconds / 1e9 x 2(n-1)/n, with n = 2 ranks a factor of 1: 10 GB/s.
  for (int node = 0; node < 3; ++node)
    results.node_ring.push_back(AllReduceFigure{1'000'000'000, 2, 10, 0.1});
  results.link_mb_per_s = {1000, 1000, 1000};
  results.device = "cpu";
  results.allreduce_path = "shm";
  results.compute_model = "tiny";
  results.batch = 8;
  results.image_size = 32;
  results.read_access = "direct";
  results.data_path = "data.h5";
  results.budget_s = 1;
  return results;
}

TEST(PreflightVerdict, AHealthyClusterHasNoFindings) {
  EXPECT_TRUE(below_median(healthy_cluster()).empty());
}

TEST(PreflightVerdict, ANodeWhoseSlowestRankIsBelow80PercentIsNamedForThatFigureOnly) {
  PreflightResults results = healthy_cluster();
  results.ranks[3].compute_images_per_s = 70;  // n1's second rank; median over ranks stays 100
  const std::vector<PreflightFinding> findings = below_median(results);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].figure, PreflightFigure::kCompute);
  EXPECT_EQ(findings[0].node, 1);
  EXPECT_DOUBLE_EQ(findings[0].value, 70);
  EXPECT_DOUBLE_EQ(findings[0].median, 100);
  const std::string text = format_report(results, findings);
  EXPECT_NE(text.find("below 80% of the median: n1 (node 1) compute: 70.0 images/s, median 100.0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("preflight: 1 figure(s) below 80% of the median (exit status 3)"),
            std::string::npos)
      << text;
}

TEST(PreflightVerdict, FiguresAt80PercentOrAboveAreNotNamed) {
  PreflightResults results = healthy_cluster();
  results.ranks[0].read_mb_per_s = 80;  // exactly at the threshold
  results.link_mb_per_s[2] = 850;
  results.node_ring[1]->seconds = 0.12;  // 8.3 GB/s of a 10 GB/s median
  EXPECT_TRUE(below_median(results).empty());
}

TEST(PreflightVerdict, ASlowLinkAndASlowIntraNodeRingAreNamedByNode) {
  PreflightResults results = healthy_cluster();
  results.link_mb_per_s[2] = 300;       // n2 -> n0
  results.node_ring[0]->seconds = 0.5;  // 2 GB/s
  const std::vector<PreflightFinding> findings = below_median(results);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].figure, PreflightFigure::kIntraNode);
  EXPECT_EQ(findings[0].node, 0);
  EXPECT_EQ(findings[1].figure, PreflightFigure::kLink);
  EXPECT_EQ(findings[1].node, 2);
  const std::string text = format_report(results, findings);
  EXPECT_NE(text.find("below 80% of the median: link n2 -> n0 (node 2 -> 0): 300.0 MB/s"),
            std::string::npos)
      << text;
  const nlohmann::json json = report_json(results, findings);
  EXPECT_EQ(json["exit_status"], kPreflightBelowMedianStatus);
  ASSERT_EQ(json["below_median"].size(), 2u);
  EXPECT_EQ(json["below_median"][1]["figure"], "link");
  EXPECT_EQ(json["below_median"][1]["host"], "n2");
  EXPECT_EQ(json["nodes"][2]["link_to_next"]["to"], "n0");
}

TEST(PreflightVerdict, OneNodeHasNoLinksAndItsOnlyRingIsItsOwnMedian) {
  PreflightResults results;
  results.nodes = table_of({"solo", "solo"});
  results.ranks.assign(2, {100, 50, 100, 100});
  results.node_ring.push_back(AllReduceFigure{1 << 20, 2, 10, 1e-3});
  EXPECT_TRUE(below_median(results).empty());
  const std::string text = format_report(results, {});
  EXPECT_NE(text.find("inter-node links: none (one node)"), std::string::npos) << text;
  EXPECT_NE(text.find("every node and link is within 80% of the median (exit status 0)"),
            std::string::npos)
      << text;
  EXPECT_TRUE(report_json(results, {})["nodes"][0]["link_to_next"].is_null());
}

TEST(PreflightFigures, BusBandwidthIsNcclTestsFactorAndMedianIsTheMiddle) {
  EXPECT_DOUBLE_EQ(all_reduce_bus_factor(1), 0);
  EXPECT_DOUBLE_EQ(all_reduce_bus_factor(2), 1);
  EXPECT_DOUBLE_EQ(all_reduce_bus_factor(4), 1.5);
  EXPECT_DOUBLE_EQ(all_reduce_bus_factor(64), 2.0 * 63 / 64);
  const AllReduceFigure figure{int64_t{1} << 30, 8, 5, 0.5};
  EXPECT_DOUBLE_EQ(figure.busbw_gbs(), figure.algbw_gbs() * 1.75);
  EXPECT_DOUBLE_EQ(median_of({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median_of({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median_of({}), 0);
  const std::vector<int64_t> sizes = all_reduce_sweep_sizes();
  EXPECT_EQ(sizes.front(), 1024);
  EXPECT_EQ(sizes.back(), int64_t{256} << 20);
  EXPECT_EQ(sizes.size(), 10u);
}

TEST(NodeTable, RanksAreWrittenAsRangesAndAMismatchWithMpiNamesTheRank) {
  NodeTable nodes = table_of({"a", "a", "b", "a", "a", "a", "b"});
  EXPECT_EQ(nodes.ranks_text(0), "0-1,3-5");
  EXPECT_EQ(nodes.ranks_text(1), "2,6");
  EXPECT_EQ(nodes.first_rank_of(1), 2);
  EXPECT_NO_THROW(nodes.check_matches_mpi("the test"));
  // Rank 4 says MPI put it on a node of 2 ranks (two hosts that report the same name).
  nodes.mpi_local_size[4] = 2;
  try {
    nodes.check_matches_mpi("the test");
    FAIL() << "a host name shared across MPI nodes was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rank 4 is local rank 3 of 2 on its node (MPI)"), std::string::npos)
        << what;
    EXPECT_NE(what.find("host name 'a': the test needs one host name per node"), std::string::npos)
        << what;
  }
}

TEST(PreflightTiming, TheLoopRunsUntilItsBudgetAndAtLeastOnceAndTellsTheLastStep) {
  int calls = 0, lasts = 0;
  const MeasuredRates rates = measure_rates(0.05, CpuWait::kThread, SlowDown(), [&](bool last) {
    ++calls;
    lasts += last ? 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return StepWork{2, 1000};
  });
  EXPECT_EQ(lasts, 1);
  EXPECT_EQ(calls, rates.steps + 1);  // one untimed warm-up
  EXPECT_GE(rates.steps, 2);
  EXPECT_GE(rates.seconds, 0.05 - 0.006);  // the last step is started to end near the budget
  // Sleeping is not run-queue time: ~2 items per ~5 ms.
  EXPECT_GT(rates.items_per_s, 100);
  EXPECT_LT(rates.items_per_s, 2 / 0.005 + 1);
  // A step longer than the budget still runs once after the warm-up.
  const MeasuredRates once = measure_rates(1e-6, CpuWait::kCounted, SlowDown(), [](bool) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return StepWork{1, 0};
  });
  EXPECT_EQ(once.steps, 1);
}

// dist.timeout_s up to the cap, named as such; above it the cap, named as the cap, so that a
// timeout message never says dist.timeout_s = 120 to a user who set 600.
TEST(PreflightLimit, IsDistTimeoutCappedAndNamesWhicheverApplies) {
  const PreflightLimit below = preflight_limit(5);
  EXPECT_EQ(below.seconds.count(), 5);
  EXPECT_STREQ(below.key, "dist.timeout_s");
  const PreflightLimit at = preflight_limit(kPreflightTimeout.count());
  EXPECT_EQ(at.seconds, kPreflightTimeout);
  EXPECT_STREQ(at.key, "dist.timeout_s");
  const PreflightLimit capped = preflight_limit(600);
  EXPECT_EQ(capped.seconds, kPreflightTimeout);
  EXPECT_STREQ(capped.key, "the preflight's cap on dist.timeout_s");
}

}  // namespace
}  // namespace nxt
