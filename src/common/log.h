// Rank-aware logging: "[HH:MM:SS r<rank>] message". Info lines print on rank 0 only unless
// set_info_on_all_ranks(true); `all` lines print on every rank (to stdout, like info);
// warnings and errors print on every rank, to stderr. Every line, and every block printed with
// print_out / print_err, reaches the output whole (Note [Output arrives whole]).
#pragma once
#include <sstream>
#include <string>
#include <string_view>

namespace nxt::log {

enum class Level { kInfo, kAll, kWarn, kError };

void set_info_on_all_ranks(bool enabled);
// Also appends every line this rank prints to `path` (rank 0's log.txt); "" stops it.
void set_log_file(const std::string& path);

// Note [Output arrives whole]
// Under mpirun each rank's stdout (a pseudo-terminal) and stderr (a pipe) are read by mpirun
// (Open MPI's IOF), at most 4096 bytes a read, and each read is forwarded as it comes, between
// the other ranks' reads. A line therefore reaches the combined output whole only if (1) the
// rank wrote it with one write(2): stdio cuts a block at its buffer (1024 bytes on a terminal;
// so the preflight's report once had another rank's line land inside its verdict, issue 35)
// and std::cerr writes each `<<` on its own; (2) the kernel kept that write whole: a pipe does
// up to PIPE_BUF (4096) bytes, a terminal cuts writes into 2048-byte chunks; and (3) no read of
// mpirun's ended inside it: a rank that writes more than 4096 bytes before mpirun reads has its
// lines cut at 4096-byte marks (seen: 400 of 9000 lines torn when 3 ranks wrote 300-byte lines
// in a loop, each with one write). So everything nxt prints goes through write_whole: a block
// is cut at line ends into pieces the kernel keeps whole, each written with one write(2), and
// into a pipe only once what waits unread there plus the piece fits one read (waiting up to a
// second for the reader). A terminal does not tell what waits unread, so a rank writing more
// than 4096 bytes to stdout faster than mpirun reads can still have a line cut there; nxt's
// stdout is sparse (rank 0's info lines, a few lines per rank). A block longer than one piece
// (4096 bytes; 2048 on a terminal) may have another rank's lines between its pieces.
// tests/mpi/output_whole.sh checks all this with 3 ranks.

// Writes `text` (whole lines) to `fd` as Note [Output arrives whole] says; to stdout, after
// what stdio holds for it (std::cout, printf). One writer per stream at a time in a process.
// Never throws: a closed terminal must not end a rank, so write errors are dropped.
void write_whole(int fd, std::string_view text);
// A block of whole lines (a table, a report, a summary) to stdout / stderr, by write_whole.
void print_out(std::string_view text);
void print_err(std::string_view text);

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
