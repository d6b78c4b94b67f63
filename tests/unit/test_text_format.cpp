// Tests the CSV quoting of common/text_format.h: fields are quoted only when they need it, with
// inner quotes doubled (RFC 4180).
#include <gtest/gtest.h>

#include "common/text_format.h"

namespace nxt {
namespace {

TEST(TextFormat, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(csv_field("plain/path.jpg"), "plain/path.jpg");
  EXPECT_EQ(csv_field("say \"hi\", ok"), "\"say \"\"hi\"\", ok\"");
}

}  // namespace
}  // namespace nxt
