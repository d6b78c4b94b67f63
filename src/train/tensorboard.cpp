// Implements TensorBoard event files: TFRecord framing with Boost's CRC-32C, Event protobufs
// (train/tensorboard_event.proto), and the trimming of a folder's event files on resume.
#include "train/tensorboard.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/crc.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "common/check.h"
#include "common/fs.h"
#include "common/log.h"
#include "train/tensorboard_event.pb.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;
using tensorboard_proto::Event;

// TensorBoard reads every file whose name contains "tfevents"; writers name them this way.
constexpr std::string_view kEventFilePrefix = "events.out.tfevents.";
// The version TensorBoard's loader expects in the first record of a file.
constexpr const char* kFileVersion = "brain.Event:2";
constexpr size_t kLengthBytes = 8;
constexpr size_t kCrcBytes = 4;

void append_little_endian(std::string& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t read_little_endian(std::string_view in, size_t offset, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i)
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  return value;
}

// One TFRecord: length, masked CRC of the length's 8 bytes, the data, masked CRC of the data.
std::string framed_record(const Event& event) {
  std::string data;
  NXT_CHECK(event.SerializeToString(&data), "cannot serialize a TensorBoard event");
  std::string record;
  record.reserve(kLengthBytes + 2 * kCrcBytes + data.size());
  append_little_endian(record, data.size(), kLengthBytes);
  append_little_endian(record, masked_crc32c(record), kCrcBytes);
  record += data;
  append_little_endian(record, masked_crc32c(data), kCrcBytes);
  return record;
}

// The record starting at `offset` of `file`, advancing `offset` past it; false at the end of the
// file and at a record that is cut short or fails a CRC (what a crash mid-write leaves).
bool next_record(std::string_view file, size_t& offset, std::string_view& data) {
  if (file.size() - offset < kLengthBytes + kCrcBytes) return false;
  const std::string_view length_bytes = file.substr(offset, kLengthBytes);
  if (read_little_endian(file, offset + kLengthBytes, kCrcBytes) != masked_crc32c(length_bytes))
    return false;
  const uint64_t length = read_little_endian(file, offset, kLengthBytes);
  const size_t data_begin = offset + kLengthBytes + kCrcBytes;
  const size_t available = file.size() - data_begin;
  if (length > available || available - length < kCrcBytes) return false;
  data = file.substr(data_begin, length);
  if (read_little_endian(file, data_begin + length, kCrcBytes) != masked_crc32c(data)) return false;
  offset = data_begin + length + kCrcBytes;
  return true;
}

// The events of one file up to its first torn or corrupt record.
std::vector<Event> read_events(const std::string& path) {
  const std::vector<char> bytes = read_file_bytes(path);
  const std::string_view file(bytes.data(), bytes.size());
  std::vector<Event> events;
  size_t offset = 0;
  size_t intact_end = 0;  // the end of the last record read and parsed
  std::string_view data;
  while (next_record(file, offset, data)) {
    Event event;
    if (!event.ParseFromArray(data.data(), static_cast<int>(data.size()))) break;
    events.push_back(std::move(event));
    intact_end = offset;
  }
  if (intact_end < file.size())
    log::warn() << "tensorboard: dropped " << file.size() - intact_end
                << " bytes after the last intact record of '" << path << "' (torn or corrupt)";
  return events;
}

// The event files in `dir`, oldest first (their names start with the creation time), including
// temp files an interrupted atomic write left (fs.h's temp_path_for: "<path>.tmp.<pid>").
std::vector<std::string> event_files_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, kEventFilePrefix.size(), kEventFilePrefix) == 0)
      files.push_back(entry.path().string());
  }
  NXT_CHECK(!ec, "cannot list the folder '", dir, "': ", ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

// The framed records of the scalars of steps <= `keep_through_step` in `files`, one per tag and
// step: a crash between publishing the new file and removing the old ones leaves both, and the
// next resume must not count those steps twice. (An unpublished temp file holds a subset of the
// events of the files it was to replace, so reading it changes nothing either.)
std::string kept_records(const std::vector<std::string>& files, int64_t keep_through_step) {
  std::string records;
  std::set<std::pair<std::string, int64_t>> kept_tag_steps;
  for (const std::string& path : files) {
    for (const Event& event : read_events(path)) {
      if (!event.has_summary() || event.step() > keep_through_step) continue;
      Event kept = event;
      kept.mutable_summary()->clear_value();
      for (const auto& value : event.summary().value())
        if (kept_tag_steps.emplace(value.tag(), event.step()).second)
          *kept.mutable_summary()->add_value() = value;
      if (kept.summary().value_size() > 0) records += framed_record(kept);
    }
  }
  return records;
}

void remove_files(const std::vector<std::string>& files, const std::string& except) {
  for (const std::string& path : files) {
    if (path == except) continue;
    std::error_code ec;
    fs::remove(path, ec);
    NXT_CHECK(!ec, "cannot remove the old event file '", path, "': ", ec.message());
  }
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// events.out.tfevents.<unix seconds>.<host>.<pid>.<n>: TensorFlow's and PyTorch's naming; n
// keeps two writers of one process in one second apart.
std::string new_event_file_path(const std::string& dir) {
  static std::atomic<int> writers_started{0};
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "localhost");
  const auto seconds = static_cast<int64_t>(unix_seconds_now());
  return (fs::path(dir) /
          (std::string(kEventFilePrefix) + std::to_string(seconds) + "." + host + "." +
           std::to_string(::getpid()) + "." + std::to_string(writers_started++)))
      .string();
}

Event file_version_event() {
  Event event;
  event.set_wall_time(unix_seconds_now());
  event.set_file_version(kFileVersion);
  return event;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  // Castagnoli's polynomial, reflected in and out, all-ones initial value and final XOR.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(std::string dir, int64_t keep_through_step) {
  NXT_CHECK(keep_through_step >= 0, "TensorBoard events: keep_through_step ", keep_through_step,
            " < 0 for '", dir, "'");
  make_dirs(dir);
  std::vector<std::string> old_files = event_files_in(dir);
  std::string contents = framed_record(file_version_event());
  if (keep_through_step > 0) {
    contents += kept_records(old_files, keep_through_step);
  } else {
    // A fresh start removes the old run first: a crash before the new file exists must not
    // leave the old run's curves to be mixed with the new one's.
    remove_files(old_files, "");
    old_files.clear();
  }
  path_ = new_event_file_path(dir);
  // The old files go only once the new one holds what they kept (a crash in between leaves
  // both, which the next resume reads as one: kept_records keeps each tag and step once).
  write_file_atomic(path_, contents);
  remove_files(old_files, path_);
  out_.open(path_, std::ios::binary | std::ios::app);
  NXT_CHECK(out_.good(), "cannot append to the event file '", path_, "'");
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  add_scalars(step, {{tag, value}});
}

void TensorBoardWriter::add_scalars(int64_t step,
                                    const std::vector<std::pair<std::string, double>>& scalars) {
  if (scalars.empty()) return;
  Event event;
  event.set_wall_time(unix_seconds_now());
  event.set_step(step);
  for (const auto& [tag, value] : scalars) {
    auto* summary_value = event.mutable_summary()->add_value();
    summary_value->set_tag(tag);
    summary_value->set_simple_value(static_cast<float>(value));
  }
  out_ << framed_record(event);
  out_.flush();
  NXT_CHECK(out_.good(), "cannot append to the event file '", path_, "' (disk full?)");
}

}  // namespace nxt
