// Rank-aware logging: "[HH:MM:SS r<rank>] message". Info lines print on rank 0 only unless
// set_info_on_all_ranks(true); `all` lines print on every rank (to stdout, like info);
// warnings and errors print on every rank, to stderr.
#pragma once
#include <sstream>
#include <string>

namespace nxt::log {

enum class Level { kInfo, kAll, kWarn, kError };

void set_info_on_all_ranks(bool enabled);
// Also appends every line this rank prints to `path` (rank 0's log.txt); "" stops it.
void set_log_file(const std::string& path);

// One log line, emitted when it goes out of scope.
class Line {
 public:
  explicit Line(Level level) : level_(level) {}
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  template <class T>
  Line& operator<<(const T& value) {
    text_ << value;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream text_;
};

inline Line info() {
  return Line(Level::kInfo);
}
inline Line all() {
  return Line(Level::kAll);
}
inline Line warn() {
  return Line(Level::kWarn);
}
inline Line error() {
  return Line(Level::kError);
}

}  // namespace nxt::log
