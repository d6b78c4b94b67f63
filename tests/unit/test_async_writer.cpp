// Tests the background checkpoint writer (checkpoint/async_writer.h, Note [Background
// checkpoints]): a snapshot does not change when training changes the model and the optimizer
// afterwards, the optimizer snapshot's archive restores the state it was taken from and leaves
// the live state in place, a failed background write is rethrown at the next wait, naming
// the file, and best.pt and last.pt of one write share their bytes yet are replaced apart.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "checkpoint/async_writer.h"
#include "common/check.h"

namespace nxt {
namespace {

// One SGD step with momentum on w (so the optimizer has state), loss sum(w * x).
void sgd_step(torch::Tensor& w, torch::optim::SGD& sgd, double x) {
  sgd.zero_grad();
  (w * x).sum().backward();
  sgd.step();
}

TEST(CheckpointWriter, SnapshotIsUnchangedByLaterStepsAndWritesInBackground) {
  torch::Tensor w = torch::ones({3}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1).momentum(0.9));
  sgd_step(w, sgd, 1.0);
  const torch::Tensor w_then = w.detach().clone();
  const void* live_state = sgd.state().begin()->second.get();

  Checkpoint c;
  c.model = {{"w", w.detach()}};  // shares w's memory, as state_dict_of() of a CPU model does
  c.classes = {"a"};
  CheckpointSnapshot snapshot = snapshot_checkpoint(std::move(c), sgd);
  EXPECT_EQ(sgd.state().begin()->second.get(), live_state) << "the live state was not restored";
  sgd_step(w, sgd, 5.0);  // training goes on before the write
  ASSERT_FALSE(torch::equal(w.detach(), w_then));

  const std::string dir = testing::TempDir() + "/async_writer";
  std::filesystem::create_directories(dir);
  CheckpointWriter writer;
  writer.write(std::move(snapshot), {dir + "/best.pt", dir + "/last.pt"},
               CheckpointWriter::When::kBackground);
  writer.wait();
  for (const char* name : {"best.pt", "last.pt"}) {
    const Checkpoint back = load_checkpoint(dir + "/" + name);
    EXPECT_TRUE(torch::equal(back.model.at(0).second, w_then)) << name;
  }
  // The optimizer archive is the snapshot's: the momentum of the first step (1), not of the
  // second (0.9 * 1 + 5). (Archives of the same state differ in bytes: compared by content.)
  torch::Tensor v = torch::ones({3}, torch::requires_grad());
  torch::optim::SGD restored({v}, torch::optim::SGDOptions(0.1).momentum(0.9));
  load_optimizer_bytes(restored, load_checkpoint(dir + "/last.pt").optimizer, "last.pt",
                       torch::kCPU);
  const auto& state = static_cast<torch::optim::SGDParamState&>(*restored.state().begin()->second);
  EXPECT_TRUE(torch::allclose(state.momentum_buffer(), torch::ones({3})));
  std::filesystem::remove_all(dir);
}

TEST(CheckpointWriter, BackgroundErrorIsRethrownAtTheNextWaitNamingTheFile) {
  torch::Tensor w = torch::ones({2}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1));
  Checkpoint c;
  c.model = {{"w", w.detach()}};
  const std::string path = testing::TempDir() + "/no_such_folder/last.pt";
  CheckpointWriter writer;
  writer.write(snapshot_checkpoint(c, sgd), {path}, CheckpointWriter::When::kBackground);
  try {
    writer.wait();
    FAIL() << "the failed background write was not reported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("background write of checkpoint '" + path + "'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(writer.wait());  // reported once
  // The next write waits for (and reports) the previous one first.
  writer.write(snapshot_checkpoint(c, sgd), {path}, CheckpointWriter::When::kBackground);
  EXPECT_THROW(writer.write(snapshot_checkpoint(c, sgd), {path}, CheckpointWriter::When::kNow),
               Error);
}

// The file's inode and link count.
std::pair<ino_t, nlink_t> inode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return {info.st_ino, info.st_nlink};
}

TEST(CheckpointWriter, FilesOfOneWriteShareTheirBytesAndAreReplacedApart) {
  torch::Tensor w = torch::ones({3}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1).momentum(0.9));
  sgd_step(w, sgd, 1.0);
  const std::string dir = testing::TempDir() + "/async_writer_links";
  std::filesystem::create_directories(dir);
  const std::string best = dir + "/best.pt", last = dir + "/last.pt";
  const auto snapshot = [&] {
    Checkpoint c;
    c.model = {{"w", w.detach()}};
    c.classes = {"a"};
    return snapshot_checkpoint(std::move(c), sgd);
  };
  CheckpointWriter writer;
  writer.write(snapshot(), {best, last}, CheckpointWriter::When::kBackground);
  writer.wait();
  EXPECT_EQ(inode_of(best).first, inode_of(last).first) << "last.pt was written a second time";
  EXPECT_EQ(inode_of(best).second, 2u);
  const torch::Tensor w_best = w.detach().clone();

  sgd_step(w, sgd, 5.0);  // the next epoch does not improve: last.pt alone is replaced
  writer.write(snapshot(), {last}, CheckpointWriter::When::kNow);
  EXPECT_NE(inode_of(best).first, inode_of(last).first);
  EXPECT_EQ(inode_of(best).second, 1u);
  EXPECT_TRUE(torch::equal(load_checkpoint(best).model.at(0).second, w_best))
      << "replacing last.pt changed best.pt";
  EXPECT_TRUE(torch::equal(load_checkpoint(last).model.at(0).second, w.detach()));
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_TRUE(entry.path().filename() == "best.pt" || entry.path().filename() == "last.pt")
        << "left behind: " << entry.path();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nxt
