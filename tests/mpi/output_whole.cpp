// Run under mpirun with 3 ranks by tests/mpi/output_whole.sh, which checks that every line of
// mpirun's combined output is one these ranks printed, whole, and that a table of at most 2048
// bytes arrives with its rows together (Note [Output arrives whole] in src/common/log.h).
// Every line says what it must be: "whole r<rank> <kind><number> L<length> <filler>", where
// kind is w (a warning), a (an `all` line), t (a row of a table of at most 2048 bytes) or T (a
// row of a longer one; rows number as <table>.<row>/<rows>), the length counts the line without
// the log prefix, and the filler repeats one letter, the rank's and stream's.
//  1. stderr, all at once: each rank prints kWarnings warnings of 80 to 1900 bytes and, every
//     kTableEvery of them, a table of 4 to 60 rows (up to about 9 KB) with print_err, with no
//     pause: the ranks write faster than mpirun reads.
//  2. stdout, in kRounds paced rounds: each rank prints one `all` line of over 1024 bytes (stdio
//     used to cut those) and one table of about 1.2 KB with print_out. A terminal (mpirun gives
//     each rank's stdout one) does not tell what waits unread, so here the pause lets mpirun read
//     a round before the next: a rank writing more than 4096 bytes to stdout faster than mpirun
//     reads can still have a line cut (the Note).
// Rank 0 prints last what each rank printed: "printed: W warnings, A all lines, T tables per
// rank".
#include <mpi.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/mpi_env.h"

namespace nxt {
namespace {

constexpr int kWarnings = 400;
constexpr int kTableEvery = 40;
constexpr int kRounds = 8;
constexpr auto kRoundPause = std::chrono::milliseconds(250);
constexpr size_t kContiguousBytes = 2048;  // the test's claim: such tables arrive in one piece

enum Stream { kStdout = 0, kStderr = 1 };

// "whole r<rank> <tag> L<length> <filler>", `length` bytes (at least 40: the head fits).
std::string line(int rank, Stream stream, const std::string& tag, size_t length) {
  const std::string head =
      "whole r" + std::to_string(rank) + " " + tag + " L" + std::to_string(length) + " ";
  return head + std::string(length - head.size(), static_cast<char>('a' + rank * 2 + stream));
}

// "w17": kind and number (appended: GCC 12 warns falsely on "w" + std::to_string(n)).
std::string tag(char kind, int number) {
  std::string text(1, kind);
  return text += std::to_string(number);
}

// Table `number` of `rows` rows of 100 to 190 bytes; its rows are tagged t when the table is
// within kContiguousBytes, else T.
std::string table(int rank, Stream stream, int number, int rows) {
  auto row_length = [&](int row) { return 100 + static_cast<size_t>(row * 37 + number) % 91; };
  size_t bytes = 0;
  for (int row = 0; row < rows; ++row) bytes += row_length(row) + 1;
  const char kind = bytes <= kContiguousBytes ? 't' : 'T';
  std::string text;
  for (int row = 0; row < rows; ++row)
    text += line(rank, stream,
                 tag(kind, number) + "." + std::to_string(row) + "/" + std::to_string(rows),
                 row_length(row)) +
            "\n";
  return text;
}

int run(int argc, char** argv) {
  MpiSession mpi(&argc, &argv);
  const int rank = mpi.rank();
  int tables = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  for (int n = 0; n < kWarnings; ++n) {
    const size_t length = 80 + static_cast<size_t>(n * 397 + rank * 131) % 1820;
    log::warn() << line(rank, kStderr, tag('w', n), length);
    if (n % kTableEvery == 0) {
      const int rows = 4 + (tables * 13 + rank * 5) % 57;
      log::print_err(table(rank, kStderr, tables++, rows));
    }
  }
  for (int round = 0; round < kRounds; ++round) {
    MPI_Barrier(MPI_COMM_WORLD);
    log::all() << line(rank, kStdout, tag('a', round), 1100 + 100 * rank);
    log::print_out(table(rank, kStdout, tables++, 8));
    std::this_thread::sleep_for(kRoundPause);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    log::print_out("printed: " + std::to_string(kWarnings) + " warnings, " +
                   std::to_string(kRounds) + " all lines, " + std::to_string(tables) +
                   " tables per rank\n");
  return 0;
}

}  // namespace
}  // namespace nxt

int main(int argc, char** argv) {
  return nxt::run(argc, argv);
}
