// Error reporting: nxt::Error, the CHECK macros (generic, MPI, HDF5) with expression, file:line
// and rank, and the guard that turns an uncaught error into one message plus MPI_Abort.
#pragma once
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace nxt {

// Library code throws; only the programs' main guard decides to abort the job.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
[[noreturn]] void throw_check_failure(const char* what, const char* expr, const std::string& detail,
                                      const char* file, int line);
std::string mpi_error_text(int code);
}  // namespace detail

// Prints "[rank R] FATAL: message" once and ends the whole job: MPI_Abort under MPI, exit
// otherwise. Safe to call from any rank and any thread.
[[noreturn]] void die(const std::string& message);

// Runs a program body; any escaping exception becomes die(what()). Returns body's exit code.
int run_guarded(const std::function<int()>& body);

}  // namespace nxt

#define NXT_CHECK(cond, ...)                                                                 \
  do {                                                                                       \
    if (!(cond))                                                                             \
      ::nxt::detail::throw_check_failure("check", #cond, ::nxt::detail::concat(__VA_ARGS__), \
                                         __FILE__, __LINE__);                                \
  } while (0)

#define NXT_MPI_CHECK(expr)                                                                   \
  do {                                                                                        \
    const int nxt_mpi_rc_ = (expr);                                                           \
    if (nxt_mpi_rc_ != 0 /* MPI_SUCCESS */)                                                   \
      ::nxt::detail::throw_check_failure(                                                     \
          "MPI call", #expr, ::nxt::detail::mpi_error_text(nxt_mpi_rc_), __FILE__, __LINE__); \
  } while (0)

// HDF5 calls return a negative herr_t/hid_t on failure.
#define NXT_H5_CHECK(expr, ...)                                                                  \
  [&] {                                                                                          \
    auto nxt_h5_rc_ = (expr);                                                                    \
    if (nxt_h5_rc_ < 0)                                                                          \
      ::nxt::detail::throw_check_failure("HDF5 call", #expr, ::nxt::detail::concat(__VA_ARGS__), \
                                         __FILE__, __LINE__);                                    \
    return nxt_h5_rc_;                                                                           \
  }()
