// The flight recorder (comm/flight_recorder.h): issue order, the 64-entry ring that never drops
// an unfinished collective, probes polled in order, and the JSON a hang leaves behind.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "comm/flight_recorder.h"

namespace nxt {
namespace {

constexpr std::chrono::seconds kDeadline{600};

TEST(FlightRecorder, KeepsTheLast64AndNeverDropsAnUnfinishedCollective) {
  FlightRecorder recorder;
  const int64_t stuck = recorder.enqueue("all-reduce", 4096, 3, kDeadline, "dist.timeout_s");
  recorder.mark_started(stuck);
  for (int k = 0; k < 100; ++k) {
    const int64_t sequence = recorder.enqueue("host all-reduce", 8, -1, kDeadline, "dist.timeout_s");
    recorder.mark_finished(sequence);
  }
  const std::vector<FlightEntry> entries = recorder.snapshot();
  ASSERT_EQ(entries.size(), FlightRecorder::kCapacity);
  EXPECT_EQ(entries.front().sequence, stuck) << "the unfinished collective was dropped";
  EXPECT_EQ(entries.back().sequence, 101);
  EXPECT_EQ(entries[1].sequence, 101 - 62) << "not the newest finished ones";
  const auto oldest = recorder.oldest_unfinished();
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest->sequence, stuck);
  EXPECT_EQ(oldest->bucket, 3);
  EXPECT_EQ(oldest->bytes, 4096);
}

TEST(FlightRecorder, PollMarksProbedCollectivesInIssueOrder) {
  FlightRecorder recorder;
  bool first_done = false, second_done = true;
  const int64_t first = recorder.enqueue("all-reduce", 1, 0, kDeadline, "dist.timeout_s",
                                         [&] { return first_done; });
  recorder.enqueue("all-reduce", 1, 1, kDeadline, "dist.timeout_s", [&] { return second_done; });
  recorder.poll();
  // The second reports done, but a stream completes in order: nothing is marked past the first.
  EXPECT_EQ(recorder.oldest_unfinished()->sequence, first);
  first_done = true;
  recorder.poll();
  EXPECT_FALSE(recorder.oldest_unfinished()) << "both are done once the first is";
}

TEST(FlightRecorder, JsonNamesEachCollectiveAndItsState) {
  FlightRecorder recorder;
  const auto t0 = FlightRecorder::Clock::now();
  const int64_t done = recorder.enqueue("broadcast", 72, -1, kDeadline, "dist.timeout_s");
  recorder.mark_started(done, t0);
  recorder.mark_finished(done, t0 + std::chrono::milliseconds(5));
  const int64_t running =
      recorder.enqueue("all-reduce", 1 << 20, 2, std::chrono::seconds(3600), "dist.rank0_phase_timeout_s");
  recorder.mark_started(running, t0);
  recorder.enqueue("all-reduce", 1 << 20, 1, kDeadline, "dist.timeout_s");
  const auto now = t0 + std::chrono::seconds(2);
  const nlohmann::json record = nlohmann::json::parse(recorder.to_json(13, now));
  EXPECT_EQ(record["rank"], 13);
  const auto& c = record["collectives"];
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0]["kind"], "broadcast");
  EXPECT_EQ(c[0]["state"], "finished");
  EXPECT_NEAR(c[0]["finished_s_ago"].get<double>(), 1.995, 1e-6);
  EXPECT_EQ(c[1]["state"], "running");
  EXPECT_EQ(c[1]["bucket"], 2);
  EXPECT_EQ(c[1]["deadline_s"], 3600);
  EXPECT_TRUE(c[1]["finished_s_ago"].is_null());
  EXPECT_EQ(c[2]["state"], "queued");
  EXPECT_TRUE(c[2]["started_s_ago"].is_null());
  EXPECT_NE(recorder.to_text(13, now).find("running"), std::string::npos);
}

}  // namespace
}  // namespace nxt
