// Implements the flight recorder's ring of collectives and its JSON and text renderings.
#include "comm/flight_recorder.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace nxt {
namespace {

// Seconds from `then` to `now`, or null when `then` was never reached.
nlohmann::json seconds_ago(FlightEntry::Clock::time_point then,
                           FlightEntry::Clock::time_point now) {
  if (then == FlightEntry::Clock::time_point{}) return nullptr;
  return std::chrono::duration<double>(now - then).count();
}

const char* state_of(const FlightEntry& entry) {
  if (entry.done()) return "finished";
  return entry.started != FlightEntry::Clock::time_point{} ? "running" : "queued";
}

std::string ago_text(const nlohmann::json& seconds) {
  if (seconds.is_null()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", seconds.get<double>());
  return text;
}

}  // namespace

int64_t FlightRecorder::enqueue(std::string kind, int64_t bytes, int64_t bucket,
                                std::chrono::seconds deadline, const char* deadline_key,
                                ProgressProbe probe) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Full: drop the oldest finished entry. Unfinished ones stay, whatever their number: they are
  // what a hang report is for.
  if (slots_.size() >= kCapacity) {
    for (auto it = slots_.begin(); it != slots_.end(); ++it)
      if (it->entry.done()) {
        slots_.erase(it);
        break;
      }
  }
  Slot slot;
  slot.entry.sequence = next_sequence_++;
  slot.entry.kind = std::move(kind);
  slot.entry.bucket = bucket;
  slot.entry.bytes = bytes;
  slot.entry.deadline = deadline;
  slot.entry.deadline_key = deadline_key;
  slot.entry.enqueued = Clock::now();
  slot.probe = std::move(probe);
  slots_.push_back(std::move(slot));
  return slots_.back().entry.sequence;
}

FlightRecorder::Slot* FlightRecorder::find(int64_t sequence) {
  for (auto it = slots_.rbegin(); it != slots_.rend(); ++it)
    if (it->entry.sequence == sequence) return &*it;
  return nullptr;
}

void FlightRecorder::mark_started(int64_t sequence, Clock::time_point when) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Slot* slot = find(sequence)) slot->entry.started = when;
}

void FlightRecorder::mark_finished(int64_t sequence, Clock::time_point when) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Slot* slot = find(sequence)) {
    slot->entry.finished = when;
    slot->probe = nullptr;  // releases what it holds (a CUDA event) now, not at eviction
  }
}

void FlightRecorder::poll(Clock::time_point now) {
  std::vector<std::pair<int64_t, ProgressProbe>> unfinished;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Slot& slot : slots_)
      if (!slot.entry.done() && slot.probe)
        unfinished.emplace_back(slot.entry.sequence, slot.probe);
  }
  for (const auto& [sequence, probe] : unfinished) {
    const CollectiveProgress progress = probe();  // unlocked: it may block (see the header)
    if (progress == CollectiveProgress::kQueued) return;
    std::lock_guard<std::mutex> lock(mutex_);
    Slot* slot = find(sequence);
    if (!slot || slot->entry.done()) continue;  // evicted, or marked by its owner meanwhile
    if (slot->entry.started == Clock::time_point{}) slot->entry.started = now;
    if (progress == CollectiveProgress::kRunning) return;
    slot->entry.finished = now;
    slot->probe = nullptr;
  }
}

std::optional<FlightEntry> FlightRecorder::oldest_unfinished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Slot& slot : slots_)
    if (!slot.entry.done()) return slot.entry;
  return std::nullopt;
}

std::vector<FlightEntry> FlightRecorder::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<FlightEntry> entries;
  for (const Slot& slot : slots_) entries.push_back(slot.entry);
  return entries;
}

std::string FlightRecorder::to_json(int rank, Clock::time_point now) const {
  nlohmann::json collectives = nlohmann::json::array();
  for (const FlightEntry& e : snapshot())
    collectives.push_back({{"sequence", e.sequence},
                           {"kind", e.kind},
                           {"bucket", e.bucket},
                           {"bytes", e.bytes},
                           {"deadline_s", e.deadline.count()},
                           {"enqueued_s_ago", seconds_ago(e.enqueued, now)},
                           {"started_s_ago", seconds_ago(e.started, now)},
                           {"finished_s_ago", seconds_ago(e.finished, now)},
                           {"state", state_of(e)}});
  return nlohmann::json{{"rank", rank}, {"collectives", collectives}}.dump(1) + "\n";
}

std::string FlightRecorder::to_text(int rank, Clock::time_point now) const {
  std::string text = "flight record of rank " + std::to_string(rank) +
                     " (last collectives, newest last; seconds ago)\n"
                     "     seq  kind                 bucket        bytes   enqueued    started   "
                     "finished  state\n";
  for (const FlightEntry& e : snapshot()) {
    char line[256];
    std::snprintf(line, sizeof line, "%8lld  %-20s %6lld %12lld %10s %10s %10s  %s\n",
                  static_cast<long long>(e.sequence), e.kind.c_str(),
                  static_cast<long long>(e.bucket), static_cast<long long>(e.bytes),
                  ago_text(seconds_ago(e.enqueued, now)).c_str(),
                  ago_text(seconds_ago(e.started, now)).c_str(),
                  ago_text(seconds_ago(e.finished, now)).c_str(), state_of(e));
    text += line;
  }
  return text;
}

}  // namespace nxt
