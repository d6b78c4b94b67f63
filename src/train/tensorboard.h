// TensorBoard event files of a run: scalars (loss, accuracy, learning rate, ...) written by rank
// 0 as TensorBoard's own format, so `tensorboard --logdir` shows a run while it trains. A file is
// a sequence of records (uint64 length, masked CRC-32C of the length, an Event protobuf, masked
// CRC-32C of the Event: TensorFlow's TFRecord framing), the first one naming the file version.
// Resume semantics mirror TrainLog: a resumed run first drops the events past the step it resumes
// from (those steps run again) and any record a crash cut short, so no step appears twice.
#pragma once
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nxt {

// CRC-32C (Castagnoli), the checksum of TFRecord framing: crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::string_view bytes);

// The checksum a record stores: crc32c rotated right by 15 bits plus 0xa282ead8 (TFRecord's
// mask, so that a CRC of data that itself contains CRCs stays well distributed).
uint32_t masked_crc32c(std::string_view bytes);

class TensorBoardWriter {
 public:
  // Creates `dir` if needed and starts a new event file there, named as TensorBoard expects
  // (events.out.tfevents.<unix seconds>.<host>.<pid>.<n>, n counting the writers of this
  // process). `keep_through_step` 0 (a fresh start) removes the event files already in `dir`; a
  // resume from step K > 0 reads them (each record's CRCs checked, a file's reading stopping at
  // its first torn or corrupt record), keeps the scalars of steps <= K (one per tag and step),
  // writes them into the new file atomically and then removes the old files. Throws nxt::Error
  // naming the folder or file when `dir` cannot be created or a file cannot be read, written or
  // removed.
  TensorBoardWriter(std::string dir, int64_t keep_through_step);

  // Appends one scalar of `step` (stored as float32, TensorBoard's simple_value), flushed at
  // once: a crash loses at most the record being written.
  void add_scalar(const std::string& tag, double value, int64_t step);

  // Appends all `scalars` of `step` as one record, flushed at once, so a crash keeps all of a
  // step's scalars or none. Nothing is written for an empty list.
  void add_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& scalars);

  // The event file this writer appends to.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace nxt
