// Implements rank-prefixed, line-atomic logging to the terminal and an optional log file.
#include "common/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>

#include "common/mpi_env.h"

namespace nxt::log {
namespace {

std::mutex g_mutex;
bool g_info_on_all_ranks = false;
std::ofstream g_file;

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

}  // namespace

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
  std::lock_guard<std::mutex> lock(g_mutex);
  std::FILE* stream = level_ == Level::kInfo || level_ == Level::kAll ? stdout : stderr;
  std::fputs(line.c_str(), stream);
  std::fflush(stream);
  if (g_file.is_open()) g_file << line << std::flush;
}

}  // namespace nxt::log
