// Tests the in-memory snapshot store (checkpoint/snapshots.h, Note [In-memory snapshots]): a
// snapshot is a checkpoint file of the user only, in folders of the user only, named by step
// and digest; a newer one replaces the older only once it is complete; a damaged newest one is
// named and passed over for the one before; the `reached` record; a store refuses a folder
// someone else owns; remove_all leaves nothing.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/snapshots.h"
#include "common/check.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;

struct Trained {
  torch::Tensor w = torch::ones({4}, torch::requires_grad());
  torch::optim::SGD sgd{{w}, torch::optim::SGDOptions(0.1).momentum(0.9)};

  // One step, then the checkpoint of it.
  CheckpointSnapshot step(double x, int64_t global_step) {
    sgd.zero_grad();
    (w * x).sum().backward();
    sgd.step();
    Checkpoint c;
    c.model = {{"w", w.detach()}};
    c.classes = {"a", "b"};
    c.position.global_step = global_step;
    return snapshot_checkpoint(std::move(c), sgd);
  }
};

std::vector<std::string> snapshot_files(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step-", 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

unsigned mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

class SnapshotStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TempDir() + "/snapshots_" + std::to_string(::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
};

TEST(SnapshotDigest, ChangesWithAnyByteAndTheLength) {
  std::vector<char> bytes(1003, 'x');
  const uint64_t digest = snapshot_digest(bytes.data(), bytes.size());
  for (size_t at : {size_t{0}, size_t{7}, size_t{8}, size_t{1002}}) {
    std::vector<char> other = bytes;
    other[at] ^= 1;
    EXPECT_NE(snapshot_digest(other.data(), other.size()), digest) << "byte " << at;
  }
  EXPECT_NE(snapshot_digest(bytes.data(), bytes.size() - 1), digest);
}

TEST_F(SnapshotStoreTest, NewestReplacesOlderAndIsReadBackPrivately) {
  const std::string folder = SnapshotStore::folder_for(root_, "run-1", "node7");
  EXPECT_EQ(folder, root_ + "/nxt-snapshots-" + std::to_string(::getuid()) + "/run-1/node7");
  Trained t;
  SnapshotStore store(folder);
  ASSERT_TRUE(store.save(t.step(1.0, 10), 10));
  store.wait();
  const torch::Tensor w_at_20 = [&] {
    CheckpointSnapshot s = t.step(2.0, 20);
    torch::Tensor w = t.w.detach().clone();
    EXPECT_TRUE(store.save(std::move(s), 20));
    return w;
  }();
  store.wait();
  const std::vector<std::string> files = snapshot_files(folder);
  ASSERT_EQ(files.size(), 1u) << "the older snapshot was not removed";
  EXPECT_EQ(files[0].rfind("step-000000000020-", 0), 0u) << files[0];
  // The user's only: the file and the three folders.
  EXPECT_EQ(mode_of(folder + "/" + files[0]), 0600u);
  for (const std::string& dir : {folder, fs::path(folder).parent_path().string(),
                                 fs::path(folder).parent_path().parent_path().string()})
    EXPECT_EQ(mode_of(dir), 0700u) << dir;

  std::vector<std::string> skipped;
  const std::optional<StoredSnapshot> newest = store.newest(&skipped);
  ASSERT_TRUE(newest);
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(newest->step, 20);
  const Checkpoint back = parse_checkpoint(newest->bytes, newest->path);
  EXPECT_EQ(back.position.global_step, 20);
  EXPECT_TRUE(torch::equal(back.model.at(0).second, w_at_20));
  EXPECT_EQ(load_checkpoint(newest->path).classes, (std::vector<std::string>{"a", "b"}));
}

TEST_F(SnapshotStoreTest, DamagedNewestIsNamedAndTheOlderOneWins) {
  const std::string folder = SnapshotStore::folder_for(root_, "run-2", "node1");
  Trained t;
  SnapshotStore store(folder);
  ASSERT_TRUE(store.save(t.step(1.0, 5), 5));
  store.wait();
  const std::string older = folder + "/" + snapshot_files(folder).at(0);
  const std::string kept = folder + "/kept.pt";
  fs::copy_file(older, kept);  // the next save removes it: put it back afterwards
  ASSERT_TRUE(store.save(t.step(1.0, 9), 9));
  store.wait();
  fs::rename(kept, older);
  const std::string newer = folder + "/" + snapshot_files(folder).at(1);
  fs::resize_file(newer, fs::file_size(newer) / 2);  // cut short, as by a full disk

  std::vector<std::string> skipped;
  const std::optional<StoredSnapshot> newest = store.newest(&skipped);
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->step, 5);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find(newer), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[0].find("damaged"), std::string::npos) << skipped[0];
}

TEST_F(SnapshotStoreTest, ReachedRecordsTheLastStepAndItsTime) {
  SnapshotStore store(SnapshotStore::folder_for(root_, "run-3", "node1"));
  EXPECT_EQ(store.reached().step, 0);
  const double before = static_cast<double>(std::time(nullptr)) - 1;
  store.mark_reached(41);
  store.mark_reached(1234567);
  const ReachedStep reached = store.reached();
  EXPECT_EQ(reached.step, 1234567);
  EXPECT_GE(reached.unix_seconds, before);
  EXPECT_LE(reached.unix_seconds, static_cast<double>(std::time(nullptr)) + 1);
}

TEST_F(SnapshotStoreTest, RemoveAllLeavesNothingOfTheUser) {
  const std::string folder = SnapshotStore::folder_for(root_, "run-4", "node1");
  Trained t;
  {
    SnapshotStore store(folder);
    ASSERT_TRUE(store.save(t.step(1.0, 3), 3));
    store.mark_reached(3);
    store.remove_all();
  }
  EXPECT_FALSE(fs::exists(fs::path(folder).parent_path().parent_path()))
      << "nxt-snapshots-<uid> is left in " << root_;
}

TEST_F(SnapshotStoreTest, RefusesAFolderAnotherUserOwns) {
  if (::getuid() != 0) GTEST_FAIL() << "needs root, to make a folder of another user";
  const std::string folder = SnapshotStore::folder_for(root_, "run-5", "node1");
  const std::string user_dir = fs::path(folder).parent_path().parent_path().string();
  fs::create_directories(user_dir);
  ASSERT_EQ(::chown(user_dir.c_str(), 4242, 4242), 0);
  try {
    SnapshotStore store(folder);
    FAIL() << "a folder of uid 4242 was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(user_dir), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a folder of this user"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace nxt
