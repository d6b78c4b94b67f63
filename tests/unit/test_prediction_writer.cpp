// Tests nxt_predict's JSON lines (infer/prediction_writer.h): one object per line, keys in the
// documented order, and paths or class names with quotes, control characters, UTF-8 or invalid
// UTF-8 that still read back as JSON.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "infer/prediction_writer.h"

namespace nxt {
namespace {

// Each line of the writer's JSON-lines output for `predictions`, parsed.
std::vector<nlohmann::ordered_json> jsonl_of(const std::vector<Prediction>& predictions,
                                             const std::vector<std::string>& classes) {
  std::ostringstream out;
  PredictionWriter writer(out, PredictionFormat::kJsonl, classes, 2);
  for (const Prediction& p : predictions) writer.write(p);
  std::vector<nlohmann::ordered_json> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);)
    lines.push_back(nlohmann::ordered_json::parse(line));
  return lines;
}

TEST(PredictionWriter, JsonLinesQuoteAndRoundTrip) {
  const std::string odd_path = "a\"b\\c\nd\x01/caf\xc3\xa9.jpg";
  const auto lines = jsonl_of(
      {{odd_path, "", {1, 0}, {0.75f, 0.25f}}, {"broken.jpg", "cannot decode \"it\"", {}, {}}},
      {"x, \"y\"", "caf\xc3\xa9"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].begin().key(), "path");  // path first, as in the CSV and text forms
  EXPECT_EQ(lines[0]["path"], odd_path);
  ASSERT_EQ(lines[0]["top"].size(), 2u);
  EXPECT_EQ(lines[0]["top"][0]["class"], "caf\xc3\xa9");
  EXPECT_EQ(lines[0]["top"][0]["probability"].get<double>(), 0.75);
  EXPECT_EQ(lines[0]["top"][1]["class"], "x, \"y\"");
  EXPECT_EQ(lines[1].begin().key(), "path");
  EXPECT_EQ(lines[1]["error"], "cannot decode \"it\"");
  EXPECT_FALSE(lines[1].contains("top"));
}

TEST(PredictionWriter, InvalidUtf8PathStillGivesJson) {
  const auto lines = jsonl_of({{"bad\xff.jpg", "", {0}, {1.0f}}}, {"only"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["path"], "bad\xef\xbf\xbd.jpg");  // U+FFFD in place of the stray byte
}

}  // namespace
}  // namespace nxt
