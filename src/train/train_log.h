// train_log.jsonl, the per-step log of a run: one JSON object per line (nlohmann-json), written
// by rank 0 every train.log_every_steps optimizer steps, plus event lines (an early stop). Each
// line has the global "step" it belongs to. A resumed run first drops the lines past the step it
// resumes from (those steps run again) and any line a crash cut short, so no step appears twice
// and the file stays valid JSON Lines.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <string>

namespace nxt {

class TrainLog {
 public:
  // Keeps the lines of an existing `path` whose step is at most `keep_through_step` (event
  // lines: below it; 0 on a fresh start: an old file is emptied), rewritten atomically, then
  // appends.
  TrainLog(std::string path, int64_t keep_through_step);

  // One line, flushed at once (a crash loses at most the line being written).
  void append(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace nxt
