// The straggler analysis of train/step_telemetry.h on made-up windows: which rank is flagged,
// its ratio and slow phase, the median over an even count, ranks without steps, and the text.
#include <gtest/gtest.h>

#include "train/step_telemetry.h"

namespace nxt {
namespace {

// A rank's window of `steps` steps with these milliseconds per step.
RankWindow window(double data_ms, double compute_ms, double wait_ms, double optimizer_ms,
                  int64_t steps = 10) {
  RankWindow w;
  w.steps = steps;
  w.seconds[StepTimer::kData] = data_ms * steps / 1000;
  w.seconds[StepTimer::kCompute] = compute_ms * steps / 1000;
  w.seconds[StepTimer::kCommunication] = wait_ms * steps / 1000;
  w.seconds[StepTimer::kOptimizer] = optimizer_ms * steps / 1000;
  return w;
}

TEST(StragglerReport, TheRankWithASlowLoaderIsFlaggedWithPhaseData) {
  // Rank 2's loader takes 60 ms more; the others wait for it in the all-reduce.
  const std::vector<RankWindow> ranks = {window(2, 40, 62, 1), window(3, 41, 60, 1),
                                         window(62, 40, 2, 1), window(2, 39, 63, 1)};
  const StragglerReport report = find_stragglers(ranks);
  EXPECT_EQ(report.ranks, 4);
  EXPECT_EQ(report.slowest_rank, 2);
  ASSERT_EQ(report.flagged.size(), 1u);
  EXPECT_EQ(report.flagged[0].rank, 2);
  EXPECT_EQ(report.flagged[0].phase, SlowPhase::kData);
  // Busy 103 ms vs the median of 43, 45, 103, 42 -> (43 + 45) / 2 = 44.
  EXPECT_NEAR(report.median_busy, 0.044, 1e-9);
  EXPECT_NEAR(report.slowest_ratio, 103.0 / 44.0, 1e-9);
  EXPECT_NEAR(report.spread, (103.0 - 42.0) / 44.0, 1e-9);
  const std::string text = straggler_text(report, {"a", "b", "node2", "d"}, 21, 40);
  EXPECT_NE(text.find("steps 21-40, 4 rank(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("slowest rank 2 (node2) is 2.34x"), std::string::npos) << text;
  EXPECT_NE(text.find("slow phase: data"), std::string::npos) << text;
  EXPECT_NE(text.find("1 rank(s) more than 20% slower"), std::string::npos) << text;
}

TEST(StragglerReport, SlowComputeIsNamedComputeAndSeveralRanksAreListedSlowestFirst) {
  const std::vector<RankWindow> ranks = {window(1, 100, 0, 1), window(1, 40, 60, 1),
                                         window(1, 41, 59, 1), window(1, 70, 30, 20),
                                         window(1, 40, 60, 1)};
  const StragglerReport report = find_stragglers(ranks);
  ASSERT_EQ(report.flagged.size(), 2u);
  EXPECT_EQ(report.flagged[0].rank, 0);
  EXPECT_EQ(report.flagged[1].rank, 3);  // forward/backward and the optimizer both count
  EXPECT_EQ(report.flagged[0].phase, SlowPhase::kCompute);
  EXPECT_EQ(report.flagged[1].phase, SlowPhase::kCompute);
  EXPECT_EQ(report.job_phase, SlowPhase::kNone);  // named only when no rank is flagged
}

TEST(StragglerReport, EvenRanksWithinTheThresholdAreNotFlaggedAndCommunicationBoundIsSaid) {
  const std::vector<RankWindow> ranks = {window(1, 20, 80, 1), window(1, 23, 77, 1),
                                         window(1, 21, 79, 1)};
  const StragglerReport report = find_stragglers(ranks);
  EXPECT_TRUE(report.flagged.empty());
  EXPECT_EQ(report.slowest_rank, 1);
  EXPECT_EQ(report.job_phase, SlowPhase::kCommunication);
  const std::string text = straggler_text(report, {"h0", "h1", "h2"}, 1, 10);
  EXPECT_NE(text.find("every rank within 1.20x"), std::string::npos) << text;
  EXPECT_NE(text.find("largest phase: communication"), std::string::npos) << text;
}

TEST(StragglerReport, JustOverTheThresholdIsFlaggedJustUnderIsNot) {
  // Median of {10, 10, x}: 10. 12.5 is over 1.2x, 11.5 under.
  EXPECT_EQ(find_stragglers({window(0, 10, 0, 0), window(0, 10, 0, 0), window(0, 12.5, 0, 0)})
                .flagged.size(),
            1u);
  EXPECT_EQ(find_stragglers({window(0, 10, 0, 0), window(0, 10, 0, 0), window(0, 11.5, 0, 0)})
                .flagged.size(),
            0u);
}

TEST(StragglerReport, RanksWithoutStepsAreLeftOutAndAnEmptyWindowReportsNothing) {
  const StragglerReport report = find_stragglers(
      {window(1, 10, 0, 0), window(50, 50, 0, 0, /*steps=*/0), window(1, 11, 0, 0)});
  EXPECT_EQ(report.ranks, 2);
  EXPECT_TRUE(report.flagged.empty());
  EXPECT_EQ(find_stragglers({}).ranks, 0);
  EXPECT_TRUE(find_stragglers({RankWindow{}}).flagged.empty());
}

TEST(StragglerReport, RanksJsonHasMillisecondsPerStepOfEachPhase) {
  const nlohmann::json json = ranks_json({window(2, 40, 6, 1, 4)}, {"n0"});
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["host"], "n0");
  EXPECT_EQ(json[0]["steps"], 4);
  EXPECT_NEAR(json[0]["data_ms"].get<double>(), 2, 1e-9);
  EXPECT_NEAR(json[0]["compute_ms"].get<double>(), 40, 1e-9);
  EXPECT_NEAR(json[0]["allreduce_wait_ms"].get<double>(), 6, 1e-9);
  EXPECT_NEAR(json[0]["busy_ms"].get<double>(), 43, 1e-9);
}

}  // namespace
}  // namespace nxt
