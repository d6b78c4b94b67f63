// Implements the CHECK failure path and the fatal-error guard of the programs.
#include "common/check.h"

#include <mpi.h>

#include <cstdio>
#include <exception>
#include <mutex>

#include "common/mpi_env.h"

namespace nxt {
namespace detail {

void throw_check_failure(const char* what, const char* expr, const std::string& detail,
                         const char* file, int line) {
  std::ostringstream out;
  out << what << " failed: " << expr;
  if (!detail.empty()) out << ": " << detail;
  out << " (" << file << ":" << line << ")";
  throw Error(out.str());
}

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
    return "MPI error " + std::to_string(code);
  return std::string(text, length);
}

}  // namespace detail

namespace {
// LibTorch's c10::Error appends a long C++ backtrace to its message; users need the first part.
std::string without_backtrace(const std::string& what) {
  return what.substr(0, what.find("\nException raised from "));
}
}  // namespace

void die(const std::string& message) {
  static std::once_flag reported;
  std::call_once(reported, [&] {
    std::fprintf(stderr, "[rank %d] FATAL: %s\n", world_rank(), message.c_str());
    std::fflush(stderr);
  });
  abort_job(1);
}

int run_guarded(const std::function<int()>& body) {
  std::set_terminate([] {
    std::string what = "terminate called";
    if (auto current = std::current_exception()) {
      try {
        std::rethrow_exception(current);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
    }
    die(what);
  });
  try {
    return body();
  } catch (const std::exception& e) {
    die(without_backtrace(e.what()));
  }
}

}  // namespace nxt
