// Implements rank-prefixed logging to the terminal and an optional log file, and write_whole.
#include "common/log.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/mpi_env.h"
#include "common/text_format.h"

namespace nxt::log {
namespace {

std::mutex g_mutex;  // the settings and the log file
bool g_info_on_all_ranks = false;
std::ofstream g_file;

// One writer at a time per stream (for wait_for_reader's count to hold), and a writer stuck on
// a full stdout does not hold up a fatal message to stderr.
std::mutex& stream_mutex(int fd) {
  static std::mutex out, err;
  return fd == STDOUT_FILENO ? out : err;
}

std::string prefix(Level level) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
  std::string text = "[" + std::string(stamp) + " r" + std::to_string(world_rank()) + "] ";
  if (level == Level::kWarn) text += "WARNING: ";
  if (level == Level::kError) text += "ERROR: ";
  return text;
}

// Note [Output arrives whole]: the largest write the kernel keeps whole, and the most mpirun
// takes in one read, on a pipe (PIPE_BUF); a terminal cuts writes into chunks of this size
// (Linux's tty layer); how long a piece waits for a pipe's reader to catch up.
constexpr size_t kPipeAtomic = PIPE_BUF;
constexpr size_t kTerminalChunk = 2048;
constexpr auto kReaderWait = std::chrono::seconds(1);

// One write(2) as far as the kernel allows; the rest of a partial write follows at once.
void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd ready{fd, POLLOUT, 0};  // someone made our stdout non-blocking
      ::poll(&ready, 1, 100);
      continue;
    }
    if (written <= 0) return;
    data += written;
    size -= static_cast<size_t>(written);
  }
}

// Waits (until `deadline`) while the bytes unread in the pipe `fd` and `incoming` together would
// not fit one read of the reader's (a piece longer than that, one line: until none is unread).
void wait_for_reader(int fd, size_t incoming, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    int unread = 0;
    if (::ioctl(fd, FIONREAD, &unread) != 0) return;
    if (unread == 0 || static_cast<size_t>(unread) + incoming <= kPipeAtomic) return;
    if (std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

void write_whole(int fd, std::string_view text) {
  std::lock_guard<std::mutex> lock(stream_mutex(fd));
  if (fd == STDOUT_FILENO) std::fflush(stdout);  // stderr has no buffer
  struct stat info {};
  const bool pipe = ::fstat(fd, &info) == 0 && S_ISFIFO(info.st_mode);
  const bool socket = !pipe && S_ISSOCK(info.st_mode);
  const bool terminal = !pipe && !socket && ::isatty(fd) != 0;
  if (!pipe && !socket && !terminal) {  // a file: nothing reads it piecewise
    write_all(fd, text.data(), text.size());
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + kReaderWait;
  for (std::string_view piece : line_pieces(text, terminal ? kTerminalChunk : kPipeAtomic)) {
    if (pipe) wait_for_reader(fd, piece.size(), deadline);
    write_all(fd, piece.data(), piece.size());
  }
}

void print_out(std::string_view text) {
  write_whole(STDOUT_FILENO, text);
}

void print_err(std::string_view text) {
  write_whole(STDERR_FILENO, text);
}

void set_info_on_all_ranks(bool enabled) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_info_on_all_ranks = enabled;
}

void set_log_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_file.is_open()) g_file.close();
  if (!path.empty()) g_file.open(path, std::ios::app);
}

Line::~Line() {
  if (level_ == Level::kInfo && world_rank() != 0) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_info_on_all_ranks) return;
  }
  const std::string line = prefix(level_) + text_.str() + "\n";
  write_whole(level_ == Level::kInfo || level_ == Level::kAll ? STDOUT_FILENO : STDERR_FILENO,
              line);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_file.is_open()) g_file << line << std::flush;
}

}  // namespace nxt::log
