// Tests nxt_eval's report (infer/eval_report.h): the text table, the CSV with its quoting and the
// JSON (full-precision numbers) all name every class, including one with a comma in its name.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "confusion_example.h"
#include "infer/eval_report.h"

namespace nxt {
namespace {

TEST(Report, TextAndCsvNameEveryClass) {
  EvalReport report{"best.pt",
                    "d.h5",
                    "val",
                    {"a", "b, with comma", "c"},
                    testing_support::worked_confusion(),
                    0.5,
                    {},
                    {},
                    {}};
  const std::string text = format_report(report);
  EXPECT_NE(text.find("accuracy   0.700000 (7/10)"), std::string::npos) << text;
  EXPECT_NE(text.find("b, with comma"), std::string::npos);
  const std::string csv = confusion_csv(report);
  EXPECT_EQ(csv, "true_class,a,\"b, with comma\",c\na,3,1,0\n\"b, with comma\",2,4,0\nc,0,0,0\n");
  const auto json = nlohmann::json::parse(report_json(report));
  EXPECT_EQ(json["confusion_matrix"], nlohmann::json::parse("[[3, 1, 0], [2, 4, 0], [0, 0, 0]]"));
  EXPECT_EQ(json["classes"][1], "b, with comma");
  EXPECT_DOUBLE_EQ(json["accuracy"].get<double>(), 0.7);  // full precision, not rounded text
}

}  // namespace
}  // namespace nxt
