// Tests TensorBoard event files (train/tensorboard.h) against TensorBoard itself: the CRC-32C test
// vector, files that TensorBoard's EventAccumulator reads back scalar for scalar
// (tests/unit/read_tensorboard.py, run with a Python that has tensorboard), the resume trimming
// (steps past the resumed one dropped, each step once, torn and corrupt records dropped), and
// the error for a folder that cannot be created.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"
#include "train/tensorboard.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;
using testing_support::error_of;
using testing_support::read_bytes;
using testing_support::write_bytes;

// tag -> [(step, value)], in the order TensorBoard read them.
using Scalars = std::map<std::string, std::vector<std::pair<int64_t, double>>>;

// The standard output and exit status of a shell command (stderr goes to the test's output).
std::pair<std::string, int> run_command(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe);
  return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// The first Python that imports tensorboard among those nxt's tests use: NXT_PYTHON from the
// environment (as tests/e2e/lib.sh), the build's NXT_PYTHON (as the interop tests), and the
// project venv's (launch/python_env.sh --python). The build against Debian's LibTorch 1.13 may
// have been configured with Debian's python3, which has no tensorboard, while the venv exists.
struct PythonSearch {
  std::string python;  // empty: none of them imports tensorboard
  std::string tried;   // the candidates that do not
};

PythonSearch find_python_with_tensorboard() {
  std::vector<std::string> candidates;
  if (const char* from_environment = std::getenv("NXT_PYTHON"))
    candidates.push_back(from_environment);
  candidates.push_back(NXT_PYTHON);
  const std::string python_env = std::string("bash ") + NXT_SOURCE_DIR + "/launch/python_env.sh";
  candidates.push_back(trimmed(run_command(python_env + " --python").first));
  PythonSearch search;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string& python = candidates[i];
    const bool seen =
        std::find(candidates.begin(), candidates.begin() + i, python) != candidates.begin() + i;
    if (python.empty() || seen) continue;
    if (run_command("'" + python + "' -c 'import tensorboard' 2>/dev/null").second == 0) {
      search.python = python;
      break;
    }
    search.tried += " " + python;
  }
  return search;
}

const PythonSearch& python_with_tensorboard() {
  static const PythonSearch search = find_python_with_tensorboard();
  return search;
}

class TensorBoardWriterTest : public ::testing::Test {
 protected:
  std::string dir() const { return temp_.path("events"); }

  // What TensorBoard's reader finds in `path` (a file or the events folder); fails the test
  // when no Python with tensorboard is found or the reader fails.
  Scalars read_with_tensorboard(const std::string& path) {
    const std::string& python = python_with_tensorboard().python;
    if (python.empty()) {
      ADD_FAILURE() << "no Python with tensorboard among:" << python_with_tensorboard().tried
                    << "; install it into the project venv: .venv/bin/pip install -r "
                       "launch/requirements.txt (tensorboard==2.21.0)";
      return {};
    }
    const auto [output, status] = run_command("'" + python + "' " + NXT_SOURCE_DIR +
                                              "/tests/unit/read_tensorboard.py '" + path + "'");
    if (status != 0) {
      ADD_FAILURE() << "read_tensorboard.py " << path << " exited with " << status;
      return {};
    }
    const nlohmann::json read = nlohmann::json::parse(output);
    Scalars scalars;
    for (const auto& [tag, points] : read.items())
      for (const auto& point : points)
        scalars[tag].emplace_back(point.at(0).get<int64_t>(), point.at(1).get<double>());
    return scalars;
  }

  // The event files in the events folder.
  std::vector<std::string> event_files() const {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir())) files.push_back(entry.path().string());
    return files;
  }

  testing_support::TempDir temp_{"tensorboard"};
};

// Equal tags, steps in the same order, and values equal as float32 (TensorBoard's simple_value).
void expect_scalars(const Scalars& actual, const Scalars& expected) {
  ASSERT_EQ(actual.size(), expected.size()) << "tags differ";
  for (const auto& [tag, points] : expected) {
    ASSERT_TRUE(actual.count(tag)) << "no tag " << tag;
    const auto& read = actual.at(tag);
    ASSERT_EQ(read.size(), points.size()) << tag;
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(read[i].first, points[i].first) << tag << " point " << i;
      EXPECT_FLOAT_EQ(static_cast<float>(read[i].second), static_cast<float>(points[i].second))
          << tag << " step " << points[i].first;
    }
  }
}

// loss = 1 / step, acc = step / 10, for steps [first, last], one add_scalars per step.
void write_steps(TensorBoardWriter& writer, int64_t first, int64_t last, double offset = 0) {
  for (int64_t step = first; step <= last; ++step)
    writer.add_scalars(step, {{"train/loss", 1.0 / step + offset}, {"train/acc", step / 10.0}});
}

Scalars expected_steps(int64_t first, int64_t last, double offset = 0) {
  Scalars expected;
  for (int64_t step = first; step <= last; ++step) {
    expected["train/loss"].emplace_back(step, 1.0 / step + offset);
    expected["train/acc"].emplace_back(step, step / 10.0);
  }
  return expected;
}

Scalars concatenated(Scalars a, const Scalars& b) {
  for (const auto& [tag, points] : b) a[tag].insert(a[tag].end(), points.begin(), points.end());
  return a;
}

TEST(TensorBoardCrc, MatchesTheCrc32cTestVectorAndTensorBoardsMask) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // The value of TensorBoard's own masked_crc32c(b"123456789")
  // (tensorboard.compat.tensorflow_stub.pywrap_tensorflow).
  EXPECT_EQ(masked_crc32c("123456789"), 0xC78AB0E5u);
}

TEST_F(TensorBoardWriterTest, FileIsNamedAsTensorBoardExpects) {
  const auto now = static_cast<int64_t>(std::time(nullptr));
  TensorBoardWriter writer(dir(), 0);
  const std::string prefix = (fs::path(dir()) / "events.out.tfevents.").string();
  ASSERT_EQ(writer.path().compare(0, prefix.size(), prefix), 0) << writer.path();
  // <unix seconds>.<host>.<pid>.<n>
  const std::string rest = writer.path().substr(prefix.size());
  const size_t seconds_end = rest.find('.');
  ASSERT_NE(seconds_end, std::string::npos) << rest;
  EXPECT_NEAR(std::stoll(rest.substr(0, seconds_end)), now, 60) << rest;
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  std::string host_and_pid = ".";
  host_and_pid.append(host).append(".").append(std::to_string(::getpid())).append(".");
  EXPECT_EQ(rest.compare(seconds_end, host_and_pid.size(), host_and_pid), 0) << rest;
  const std::string counter = rest.substr(seconds_end + host_and_pid.size());
  EXPECT_FALSE(counter.empty()) << rest;
  EXPECT_EQ(counter.find_first_not_of("0123456789"), std::string::npos) << rest;
  EXPECT_TRUE(fs::is_regular_file(writer.path()));
}

TEST_F(TensorBoardWriterTest, TensorBoardReadsEveryScalar) {
  TensorBoardWriter writer(dir(), 0);
  writer.add_scalar("lr", 0.1, 1);
  writer.add_scalars(1, {{"train/loss", 2.302585}, {"val/acc", 0.25}});
  writer.add_scalar("lr", 1e-7, 2);
  writer.add_scalars(2, {{"train/loss", -3.5e12}, {"val/acc", 0.9444}});
  writer.add_scalars(3, {});  // nothing
  writer.add_scalar("lr", 0.0, 1000000000000);
  const Scalars expected = {{"lr", {{1, 0.1}, {2, 1e-7}, {1000000000000, 0.0}}},
                            {"train/loss", {{1, 2.302585}, {2, -3.5e12}}},
                            {"val/acc", {{1, 0.25}, {2, 0.9444}}}};
  // Read while the writer is still open: each add is flushed.
  expect_scalars(read_with_tensorboard(writer.path()), expected);
  expect_scalars(read_with_tensorboard(dir()), expected);
}

TEST_F(TensorBoardWriterTest, FreshStartRemovesEarlierEventFiles) {
  {
    TensorBoardWriter earlier(dir(), 0);
    write_steps(earlier, 1, 5);
  }
  TensorBoardWriter writer(dir(), 0);
  write_steps(writer, 1, 2, /*offset=*/100);
  EXPECT_EQ(event_files(), std::vector<std::string>{writer.path()});
  expect_scalars(read_with_tensorboard(dir()), expected_steps(1, 2, 100));
}

TEST_F(TensorBoardWriterTest, ResumeKeepsTheStepsUpToTheResumedOneEachOnce) {
  {
    TensorBoardWriter first_run(dir(), 0);
    write_steps(first_run, 1, 6);
  }
  {  // resumed from step 4: steps 5 and 6 run again, with other values
    TensorBoardWriter resumed(dir(), 4);
    EXPECT_EQ(event_files(), std::vector<std::string>{resumed.path()});
    write_steps(resumed, 5, 8, /*offset=*/100);
  }
  expect_scalars(read_with_tensorboard(dir()),
                 concatenated(expected_steps(1, 4), expected_steps(5, 8, 100)));
  // Resumed again, from a file that is itself a resume's.
  TensorBoardWriter resumed_again(dir(), 6);
  write_steps(resumed_again, 7, 7, /*offset=*/200);
  EXPECT_EQ(event_files(), std::vector<std::string>{resumed_again.path()});
  expect_scalars(read_with_tensorboard(dir()),
                 concatenated(concatenated(expected_steps(1, 4), expected_steps(5, 6, 100)),
                              expected_steps(7, 7, 200)));
}

TEST_F(TensorBoardWriterTest, TornTrailingRecordIsDroppedOnResume) {
  std::string path;
  {
    TensorBoardWriter crashed(dir(), 0);
    write_steps(crashed, 1, 5);
    path = crashed.path();
  }
  // A crash in the middle of writing step 5's record.
  fs::resize_file(path, fs::file_size(path) - 3);
  TensorBoardWriter resumed(dir(), 5);
  write_steps(resumed, 5, 6, /*offset=*/100);
  expect_scalars(read_with_tensorboard(dir()),
                 concatenated(expected_steps(1, 4), expected_steps(5, 6, 100)));
}

TEST_F(TensorBoardWriterTest, RecordFailingItsCrcEndsTheReadingOfItsFile) {
  std::string path;
  {
    TensorBoardWriter damaged(dir(), 0);
    write_steps(damaged, 1, 5);
    path = damaged.path();
  }
  // The last record ends with step 5's acc (a float, the last field written), then its CRC:
  // flip a bit of that float, which still parses, to a value only the CRC tells from the real.
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes[bytes.size() - 4 - 1] ^= 0x01;
  write_bytes(path, bytes);
  TensorBoardWriter resumed(dir(), 10);
  expect_scalars(read_with_tensorboard(dir()), expected_steps(1, 4));
}

TEST_F(TensorBoardWriterTest, LeftoversOfAnInterruptedResumeAreReadOnce) {
  std::string path;
  {
    TensorBoardWriter first_run(dir(), 0);
    write_steps(first_run, 1, 3);
    path = first_run.path();
  }
  // A resume that published its file but crashed before removing the old one leaves two files
  // with the same steps; one that crashed before publishing leaves its temp file.
  fs::copy_file(path, path + "0");
  write_bytes(path + ".tmp.12345", {1, 2, 3});
  TensorBoardWriter resumed(dir(), 3);
  EXPECT_EQ(event_files(), std::vector<std::string>{resumed.path()});
  expect_scalars(read_with_tensorboard(dir()), expected_steps(1, 3));
}

TEST_F(TensorBoardWriterTest, FolderThatCannotBeCreatedIsAnErrorNamingIt) {
  // Below a regular file: no folder can be made there, whoever runs the test (root included).
  write_bytes(temp_.path("a_file"), {0});
  const std::string bad_dir = temp_.path("a_file") + "/events";
  const std::string error = error_of([&] { TensorBoardWriter writer(bad_dir, 0); });
  EXPECT_NE(error.find("cannot create folder '" + bad_dir + "'"), std::string::npos) << error;
}

TEST_F(TensorBoardWriterTest, NegativeKeepThroughStepIsAnError) {
  const std::string error = error_of([&] { TensorBoardWriter writer(dir(), -1); });
  EXPECT_NE(error.find("keep_through_step -1"), std::string::npos) << error;
}

}  // namespace
}  // namespace nxt
