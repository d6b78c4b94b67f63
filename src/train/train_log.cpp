// Implements train_log.jsonl: trimming on resume, then appending flushed lines.
#include "train/train_log.h"

#include <sstream>

#include "common/check.h"
#include "common/fs.h"

namespace nxt {

TrainLog::TrainLog(std::string path, int64_t keep_through_step) : path_(std::move(path)) {
  std::ostringstream kept;
  std::ifstream old(path_);
  for (std::string line; std::getline(old, line);) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    // Events at the resumed step (an early stop) are decided again by the resumed run.
    const bool keep =
        record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
        (record.contains("event") ? record["step"].get<int64_t>() < keep_through_step
                                  : record["step"].get<int64_t>() <= keep_through_step);
    if (keep) kept << line << '\n';
  }
  old.close();
  write_file_atomic(path_, kept.str());
  out_.open(path_, std::ios::app);
  NXT_CHECK(out_.good(), "cannot append to '", path_, "'");
}

void TrainLog::append(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  NXT_CHECK(out_.good(), "cannot append to '", path_, "' (disk full?)");
}

}  // namespace nxt
