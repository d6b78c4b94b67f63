// Tests data.shard_by node and the one copy per node: the node shares (Note [Node shares] in
// data/sampler.h: each image in exactly one share, shares fixed or re-dealt every K epochs, the
// interleaved global sequence with equal per-rank counts, padding and drop_last, each slot on
// its node's share, the prefix property a resume relies on, on the same and on another layout,
// and the layout checkpoints record), and NodeCopy (data/node_copy.h) with a writer and waiters
// as threads of one process over real packed files of both format versions: the bytes equal
// the file's, a failure marker ends the waiters within a second with the writer's reason (an
// earlier job's is ignored), a waiter's deadline names who it waited for, and a complete copy
// left by a killed job is reused.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "data/image_reader.h"
#include "data/node_copy.h"
#include "data/packed_dataset.h"
#include "data/sampler.h"
#include "packed_fixture.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;
using testing_support::error_of;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSeed = 17;

std::vector<int64_t> slot_shard(const std::vector<int64_t>& sequence, int slot, int world,
                                bool drop_last, int64_t start = 0) {
  return shard_of_sequence(sequence, {slot, world}, drop_last, start);
}

TEST(NodeShares, DealOfEpochChangesEveryKEpochsOrNever) {
  for (int64_t epoch : {0, 1, 5, 100}) EXPECT_EQ(deal_of_epoch(epoch, 0), 0);
  const std::vector<int64_t> expected{0, 0, 0, 1, 1, 1, 2};
  for (int64_t epoch = 0; epoch < 7; ++epoch) EXPECT_EQ(deal_of_epoch(epoch, 3), expected[epoch]);
  EXPECT_EQ(deal_of_epoch(4, 1), 4);
}

TEST(NodeShares, EachImageIsInExactlyOneShareOfADeal) {
  for (int nodes : {1, 2, 3, 4, 7}) {
    for (int64_t n : {7, 8, 10, 31, 100, 257}) {
      std::vector<int> owner(static_cast<size_t>(n), -1);
      size_t smallest = SIZE_MAX, largest = 0;
      for (int node = 0; node < nodes; ++node) {
        const std::vector<int64_t> share = node_share(n, kSeed, 2, node, nodes);
        ASSERT_TRUE(std::is_sorted(share.begin(), share.end()));
        smallest = std::min(smallest, share.size());
        largest = std::max(largest, share.size());
        for (int64_t i : share) {
          ASSERT_EQ(owner[static_cast<size_t>(i)], -1) << "image " << i << " in two shares";
          owner[static_cast<size_t>(i)] = node;
        }
      }
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NE(owner[static_cast<size_t>(i)], -1) << "image " << i << " in no share";
      EXPECT_LE(largest - smallest, 1u) << n << " images over " << nodes << " nodes";
    }
  }
}

TEST(NodeShares, DealsAreSeededAndDifferFromEachOther) {
  EXPECT_EQ(node_share(100, kSeed, 0, 1, 3), node_share(100, kSeed, 0, 1, 3));
  EXPECT_NE(node_share(100, kSeed, 0, 1, 3), node_share(100, kSeed, 1, 1, 3));
  EXPECT_NE(node_share(100, kSeed, 0, 1, 3), node_share(100, kSeed + 1, 0, 1, 3));
  // Not the epoch's shuffle cut in pieces: a stream of its own.
  std::vector<int64_t> first_half = shuffled_sequence(100, kSeed, 0);
  first_half.resize(50);
  std::sort(first_half.begin(), first_half.end());
  EXPECT_NE(node_share(100, kSeed, 0, 0, 2), first_half);
}

// The images each node's slots read in an epoch, as sets.
std::vector<std::set<int64_t>> images_per_node(const std::vector<int64_t>& sequence,
                                               NodeLayout layout, bool drop_last) {
  std::vector<std::set<int64_t>> per_node(static_cast<size_t>(layout.nodes));
  for (int slot = 0; slot < layout.world(); ++slot)
    for (int64_t i : slot_shard(sequence, slot, layout.world(), drop_last))
      per_node[static_cast<size_t>(slot / layout.ranks_per_node)].insert(i);
  return per_node;
}

TEST(NodeShares, EachSlotReadsOnlyItsNodesShareAndEveryImageOnce) {
  for (NodeLayout layout :
       {NodeLayout{1, 1}, NodeLayout{2, 1}, NodeLayout{2, 2}, NodeLayout{3, 2}, NodeLayout{4, 3}}) {
    for (int64_t n : {12, 13, 31, 100}) {
      if (n < layout.nodes) continue;
      for (bool drop_last : {false, true}) {
        const std::vector<int64_t> sequence =
            node_sharded_sequence(n, kSeed, 3, 0, layout, drop_last);
        const int world = layout.world();
        const std::string where = std::to_string(layout.nodes) + "x" +
                                  std::to_string(layout.ranks_per_node) +
                                  " n=" + std::to_string(n) + (drop_last ? " drop_last" : "");
        ASSERT_EQ(static_cast<int64_t>(sequence.size()), node_sharded_length(n, layout, drop_last))
            << where;
        ASSERT_EQ(sequence.size() % world, 0u) << where;
        // Equal per-rank counts: ceil(largest share / L), or floor(smallest / L) with drop_last.
        const int64_t largest = (n + layout.nodes - 1) / layout.nodes;
        const int64_t smallest = n / layout.nodes;
        const int64_t per_rank =
            drop_last ? smallest / layout.ranks_per_node
                      : (largest + layout.ranks_per_node - 1) / layout.ranks_per_node;
        std::map<int64_t, int> seen;
        for (int slot = 0; slot < world; ++slot) {
          const std::vector<int64_t> mine = slot_shard(sequence, slot, world, drop_last);
          ASSERT_EQ(static_cast<int64_t>(mine.size()), per_rank) << where << " slot " << slot;
          const std::vector<int64_t> share =
              node_share(n, kSeed, 0, slot / layout.ranks_per_node, layout.nodes);
          for (int64_t i : mine) {
            ASSERT_TRUE(std::binary_search(share.begin(), share.end(), i))
                << where << ": slot " << slot << " read image " << i << " of another node";
            ++seen[i];
          }
        }
        // Before the padding each image once: a node's extra samples repeat its own head, so
        // no image is read more than twice, and only as many repeats as the padding needs.
        int64_t repeats = 0;
        for (const auto& [image, count] : seen) {
          ASSERT_LE(count, drop_last ? 1 : 2) << where << " image " << image;
          repeats += count - 1;
        }
        if (drop_last) {
          EXPECT_EQ(static_cast<int64_t>(seen.size()), per_rank * world) << where;
        } else {
          EXPECT_EQ(static_cast<int64_t>(seen.size()), n) << where << ": an image is missing";
          EXPECT_EQ(repeats, per_rank * world - n) << where;
        }
      }
    }
  }
}

TEST(NodeShares, SharesStayFixedWithoutReshardAndAreDealtAnewEveryK) {
  const NodeLayout layout{3, 2};
  const int64_t n = 60;
  const auto images = [&](int64_t epoch, int64_t every) {
    return images_per_node(node_sharded_sequence(n, kSeed, epoch, every, layout, false), layout,
                           false);
  };
  const auto epoch0 = images(0, 0);
  for (int node = 0; node < layout.nodes; ++node) {
    const std::vector<int64_t> share = node_share(n, kSeed, 0, node, layout.nodes);
    EXPECT_EQ(epoch0[node], std::set<int64_t>(share.begin(), share.end())) << "node " << node;
  }
  EXPECT_EQ(images(1, 0), epoch0);
  EXPECT_EQ(images(9, 0), epoch0);
  // The order within a node changes every epoch.
  EXPECT_NE(node_sharded_sequence(n, kSeed, 0, 0, layout, false),
            node_sharded_sequence(n, kSeed, 1, 0, layout, false));
  // Every 2 epochs: epochs 0-1 deal 0, 2-3 deal 1, 4 deal 2.
  EXPECT_EQ(images(1, 2), epoch0);
  EXPECT_NE(images(2, 2), epoch0);
  EXPECT_EQ(images(3, 2), images(2, 2));
  EXPECT_NE(images(4, 2), images(2, 2));
  for (int node = 0; node < layout.nodes; ++node) {
    const std::vector<int64_t> share = node_share(n, kSeed, 2, node, layout.nodes);
    EXPECT_EQ(images(5, 2)[node], std::set<int64_t>(share.begin(), share.end()));
  }
}

TEST(NodeShares, GlobalPositionsInterleaveTheNodesSoAPrefixIsDoneAfterKSamplesPerRank) {
  const NodeLayout layout{3, 2};
  const int world = layout.world();
  const int64_t n = 50;
  const std::vector<int64_t> sequence = node_sharded_sequence(n, kSeed, 1, 0, layout, false);
  // Node `node`'s local rank l takes its node's samples l, l + L, ...: global position
  // q * world + node * L + l holds the node's (q * L + l)-th. So the k-th sample of slot s is
  // at position k * world + s, and after k samples per rank positions [0, k * world) are done.
  for (size_t p = 0; p < sequence.size(); ++p) {
    const int node = static_cast<int>(p % world) / layout.ranks_per_node;
    const std::vector<int64_t> share = node_share(n, kSeed, 0, node, layout.nodes);
    ASSERT_TRUE(std::binary_search(share.begin(), share.end(), sequence[p]))
        << "position " << p << " holds image " << sequence[p] << ", not of node " << node;
  }
  for (int slot = 0; slot < world; ++slot) {
    const std::vector<int64_t> mine = slot_shard(sequence, slot, world, false);
    for (size_t k = 0; k < mine.size(); ++k)
      ASSERT_EQ(mine[k], sequence[train_position(0, static_cast<int64_t>(k), {slot, world})]);
  }
  for (int64_t k = 1; k <= static_cast<int64_t>(sequence.size()) / world; ++k) {
    std::multiset<int64_t> prefix(sequence.begin(), sequence.begin() + k * world), taken;
    for (int slot = 0; slot < world; ++slot) {
      const std::vector<int64_t> mine = slot_shard(sequence, slot, world, false);
      taken.insert(mine.begin(), mine.begin() + k);
    }
    ASSERT_EQ(taken, prefix) << "after " << k << " samples per rank";
  }
}

TEST(NodeShares, TheRestOfAnEpochContinuesExactlyOnTheSameAndOnAnotherLayout) {
  const NodeLayout before{2, 2};
  const int64_t n = 48;  // 12 per rank: no padding
  const std::vector<int64_t> sequence = node_sharded_sequence(n, kSeed, 4, 0, before, false);
  const int64_t start = 5 * before.world();  // each rank took 5 samples, then the job stopped
  for (int world : {before.world(), 1, 3, 6}) {
    std::multiset<int64_t> positions;
    std::vector<int64_t> again(static_cast<size_t>(start));
    for (int r = 0; r < world; ++r) {
      const std::vector<int64_t> mine = slot_shard(sequence, r, world, false, start);
      for (size_t k = 0; k < mine.size(); ++k) {
        const int64_t position = train_position(start, static_cast<int64_t>(k), {r, world});
        ASSERT_EQ(mine[k], sequence[position % n]);
        if (position < n) positions.insert(position);
      }
    }
    // Each position of the rest once, whatever the new world.
    std::multiset<int64_t> expected;
    for (int64_t p = start; p < n; ++p) expected.insert(p);
    EXPECT_EQ(positions, expected) << "world " << world;
  }
  // On the same layout the rest is exactly what the uninterrupted ranks would have taken.
  for (int slot = 0; slot < before.world(); ++slot) {
    const std::vector<int64_t> whole = slot_shard(sequence, slot, before.world(), false);
    const std::vector<int64_t> rest = slot_shard(sequence, slot, before.world(), false, start);
    EXPECT_EQ(rest, std::vector<int64_t>(whole.begin() + 5, whole.end())) << "slot " << slot;
  }
}

TEST(NodeShares, RejectsImpossibleLayouts) {
  const std::string few = error_of([] { node_sharded_sequence(2, kSeed, 0, 0, {3, 1}, false); });
  EXPECT_NE(few.find("2 training images cannot give each of 3 nodes a share"), std::string::npos)
      << few;
  const std::string none = error_of([] { node_sharded_sequence(10, kSeed, 0, 0, {0, 0}, false); });
  EXPECT_NE(none.find("invalid node layout"), std::string::npos) << none;
}

// The layout of the epoch's sequence (TrainingPosition::sequence_*) round trips; a half layout
// is refused, naming the file. (Files without it read as 0: test_checkpoint.cpp.)
TEST(NodeShares, CheckpointsRecordTheLayoutOfTheEpochsSequence) {
  testing_support::TempDir dir("node_layout_checkpoint");
  Checkpoint c;
  c.model = {{"w", torch::ones({2})}};
  c.position.sequence_nodes = 3;
  c.position.sequence_ranks_per_node = 2;
  save_checkpoint(c, dir.path("layout.pt"));
  const Checkpoint back = load_checkpoint(dir.path("layout.pt"));
  EXPECT_EQ(back.position.sequence_nodes, 3);
  EXPECT_EQ(back.position.sequence_ranks_per_node, 2);
  c.position.sequence_ranks_per_node = 0;
  save_checkpoint(c, dir.path("half.pt"));
  const std::string error = error_of([&] { load_checkpoint(dir.path("half.pt")); });
  EXPECT_NE(error.find("half.pt"), std::string::npos) << error;
  EXPECT_NE(error.find("not a node layout"), std::string::npos) << error;
}

// The options of rank `rank` of a node whose writer is rank 0, in job "job-1".
NodeCopyOptions options(const std::string& dir, bool writer, int rank) {
  NodeCopyOptions o;
  o.dir = dir;
  o.writer = writer;
  o.timeout_s = 60;
  o.who = "rank " + std::to_string(rank) + " on testnode";
  o.writer_who = "rank 0";
  o.job = "job-1";
  return o;
}

// NodeCopy over real packed files: version 1 (raw squares) and, with A's packer, version 2
// (JPEG and raw records of their own shapes).
class NodeCopyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing_support::TempDir("node_copy");
    testing_support::make_demo_pack(dir_->path("images"), v1());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string v1() { return dir_->path("v1.h5"); }
  static std::string path(const std::string& name) { return dir_->path(name); }
  // A fresh folder for the copies of one test.
  static std::string copy_dir(const std::string& name) {
    const std::string dir = path(name);
    fs::create_directories(dir);
    return dir;
  }
  static testing_support::TempDir* dir_;
};
testing_support::TempDir* NodeCopyTest::dir_ = nullptr;

std::vector<int64_t> every_other(int64_t n) {
  std::vector<int64_t> indices;
  for (int64_t i = 1; i < n; i += 2) indices.push_back(i);
  return indices;
}

std::vector<uint8_t> file_bytes(const ImageReader& reader, int64_t index) {
  std::vector<uint8_t> buffer;
  const ByteView view = reader.bytes(index, buffer);
  return std::vector<uint8_t>(view.data, view.data + view.size);
}

// A writer and `waiters` waiting ranks, each a thread, the waiters started first.
std::vector<std::shared_ptr<NodeCopy>> node_of_threads(const ImageReader& reader,
                                                       const std::vector<int64_t>& indices,
                                                       const std::vector<NodeCopyOptions>& ranks) {
  std::vector<std::future<std::shared_ptr<NodeCopy>>> running;
  for (const NodeCopyOptions& o : ranks)
    running.push_back(std::async(std::launch::async, [&reader, &indices, o] {
      if (o.writer) std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return std::make_shared<NodeCopy>(reader, indices, o);
    }));
  std::vector<std::shared_ptr<NodeCopy>> copies;
  for (auto& r : running) copies.push_back(r.get());
  return copies;
}

void expect_copy_holds_the_files_bytes(const std::string& file, const std::string& dir) {
  const PackedDataset dataset(file);
  const ImageReader plain(dataset, "train");
  ImageReader shared(dataset, "train");
  const std::vector<int64_t> indices = every_other(plain.size());
  ASSERT_GT(indices.size(), 10u);
  std::vector<NodeCopyOptions> ranks;
  for (int r = 0; r < 3; ++r) ranks.push_back(options(dir, r == 0, r));
  std::vector<std::shared_ptr<NodeCopy>> copies = node_of_threads(plain, indices, ranks);
  const NodeCopy& writer = *copies[0];
  EXPECT_EQ(writer.images(), static_cast<int64_t>(indices.size()));
  EXPECT_EQ(writer.size_bytes(), NodeCopy::bytes_needed(plain, indices));
  EXPECT_EQ(fs::file_size(writer.path()), writer.size_bytes());
  EXPECT_NE(writer.path().find("train"), std::string::npos) << writer.path();
  EXPECT_FALSE(fs::exists(writer.path() + ".failed"));
  // The user's images: readable by the job's user only, on a node other users share.
  EXPECT_EQ(fs::status(writer.path()).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write)
      << writer.path();
  for (const auto& copy : copies) {
    EXPECT_EQ(copy->path(), writer.path());
    for (int64_t i = 0; i < plain.size(); ++i) {
      const ByteView held = copy->find(i);
      if (i % 2 == 0) {
        ASSERT_EQ(held.data, nullptr) << "image " << i << " is not in the copy";
        continue;
      }
      ASSERT_NE(held.data, nullptr) << "image " << i;
      ASSERT_EQ(std::vector<uint8_t>(held.data, held.data + held.size), file_bytes(plain, i))
          << "image " << i;
    }
  }
  // Through the reader: the copy's images from the mapping, the others from the file.
  shared.use_node_copy(copies[1]);
  EXPECT_NE(std::string(shared.access_path()).find("node copy"), std::string::npos);
  const uint64_t before = shared.file_bytes_read();
  for (int64_t i = 0; i < plain.size(); ++i)
    ASSERT_EQ(file_bytes(shared, i), file_bytes(plain, i)) << "image " << i;
  uint64_t from_file = 0;
  for (int64_t i = 0; i < plain.size(); i += 2) from_file += plain.stored(i).bytes;
  EXPECT_EQ(shared.file_bytes_read() - before, from_file) << "held images were read from the file";
  // The writer removes the file when done; the others' mappings stay valid.
  const std::string name = writer.path();
  const std::vector<uint8_t> last = file_bytes(plain, indices.back());
  copies[0].reset();
  EXPECT_FALSE(fs::exists(name));
  const ByteView still = copies[2]->find(indices.back());
  EXPECT_EQ(std::vector<uint8_t>(still.data, still.data + still.size), last);
  shared.use_node_copy(nullptr);
}

TEST_F(NodeCopyTest, WriterAndWaitersShareTheFilesBytesOnDisk) {
  expect_copy_holds_the_files_bytes(v1(), copy_dir("disk"));
}

TEST_F(NodeCopyTest, WriterAndWaitersShareTheFilesBytesInDevShm) {
  ASSERT_TRUE(fs::is_directory("/dev/shm")) << "no /dev/shm on this machine";
  const std::string dir = "/dev/shm/nxt_test_node_copy_" + std::to_string(::getpid());
  fs::create_directories(dir);
  expect_copy_holds_the_files_bytes(v1(), dir);
  EXPECT_TRUE(fs::is_empty(dir)) << "files left in " << dir;
  fs::remove_all(dir);
}

TEST_F(NodeCopyTest, VersionTwoRecordsOfTheirOwnShapeAndEncoding) {
  PackOptions o;
  o.input = path("images");
  o.output = path("v2.h5");
  o.max_side = 48;
  o.store = StoreMode::kMixed;
  o.jpeg_share = 0.5;
  o.threads = 2;
  o.seed = 5;
  o.progress = false;
  pack_image_folder(o);
  const PackedDataset dataset(path("v2.h5"));
  ASSERT_EQ(dataset.version(), 2);
  expect_copy_holds_the_files_bytes(path("v2.h5"), copy_dir("v2"));
}

// In /dev/shm the trainer removes the name once every rank has mapped the copy, so that a job
// killed later leaves nothing behind: the mappings must keep serving the bytes.
TEST_F(NodeCopyTest, UnlinkedCopyKeepsServingItsMappings) {
  const PackedDataset dataset(v1());
  const ImageReader reader(dataset, "train");
  const std::vector<int64_t> indices = every_other(reader.size());
  const std::string dir = copy_dir("unlinked");
  std::vector<std::shared_ptr<NodeCopy>> copies =
      node_of_threads(reader, indices, {options(dir, true, 0), options(dir, false, 1)});
  const std::string name = copies[0]->path();
  ASSERT_TRUE(fs::exists(name));
  copies[1]->unlink_file();  // not the writer: nothing happens
  EXPECT_TRUE(fs::exists(name));
  copies[0]->unlink_file();
  EXPECT_FALSE(fs::exists(name)) << "the writer left the copy's name";
  EXPECT_TRUE(fs::is_empty(dir)) << "files left in " << dir;
  for (const auto& copy : copies)
    for (int64_t i : indices) {
      const ByteView held = copy->find(i);
      ASSERT_EQ(std::vector<uint8_t>(held.data, held.data + held.size), file_bytes(reader, i))
          << "image " << i;
    }
}

TEST_F(NodeCopyTest, AWritersFailureEndsTheWaitersWithinASecondWithItsReason) {
  // A reader of a file cut after it was opened: the writer's reads fail part way.
  fs::copy_file(v1(), path("cut.h5"), fs::copy_options::overwrite_existing);
  const PackedDataset dataset(path("cut.h5"));
  const ImageReader reader(dataset, "train");
  fs::resize_file(path("cut.h5"), fs::file_size(path("cut.h5")) / 2);
  std::vector<int64_t> all(static_cast<size_t>(reader.size()));
  std::iota(all.begin(), all.end(), 0);
  const std::string dir = copy_dir("failing");
  std::vector<std::future<std::string>> waiters;
  const auto start = Clock::now();
  for (int r = 1; r <= 2; ++r)
    waiters.push_back(std::async(std::launch::async, [&, r] {
      return error_of([&] { NodeCopy copy(reader, all, options(dir, false, r)); });
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string written = error_of([&] { NodeCopy copy(reader, all, options(dir, true, 0)); });
  EXPECT_NE(written.find("rank 0 on testnode could not write the node copy"), std::string::npos)
      << written;
  EXPECT_NE(written.find("cut.h5"), std::string::npos) << written;
  const auto failed_at = Clock::now();
  for (auto& waiter : waiters) {
    const std::string error = waiter.get();
    EXPECT_NE(error.find("gives up waiting"), std::string::npos) << error;
    EXPECT_NE(error.find("the node's writer failed"), std::string::npos) << error;
    EXPECT_NE(error.find("cut.h5"), std::string::npos) << "the writer's reason: " << error;
  }
  const double after = std::chrono::duration<double>(Clock::now() - failed_at).count();
  EXPECT_LT(after, 1.0) << "the waiters took " << after << " s after the failure";
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30);
  // Nothing half-written is left, only the marker.
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_NE(entry.path().string().find(".failed"), std::string::npos) << entry.path();
}

TEST_F(NodeCopyTest, AnEarlierJobsFailureMarkerIsIgnored) {
  const PackedDataset dataset(v1());
  const ImageReader reader(dataset, "train");
  const std::vector<int64_t> indices = every_other(reader.size());
  const std::string dir = copy_dir("stale_marker");
  // Learn the copy's name, then leave a failure marker of another job under it.
  std::string name;
  { name = NodeCopy(reader, indices, options(dir, true, 0)).path(); }
  {
    std::ofstream marker(name + ".failed");
    marker << "job-0\nrank 0 ran out of memory last time";
  }
  // The waiter starts first and sees the stale marker; it must keep waiting for the writer.
  auto waiter = std::async(std::launch::async, [&] {
    return std::make_shared<NodeCopy>(reader, indices, options(dir, false, 1));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  NodeCopy writer(reader, indices, options(dir, true, 0));
  std::shared_ptr<NodeCopy> copy;
  const std::string error = error_of([&] { copy = waiter.get(); });
  ASSERT_EQ(error, "(no error)");
  EXPECT_EQ(copy->images(), static_cast<int64_t>(indices.size()));
  EXPECT_FALSE(fs::exists(name + ".failed")) << "the writer leaves no stale marker behind";
}

TEST_F(NodeCopyTest, AWaitersDeadlineNamesItselfTheWriterAndTheFile) {
  const PackedDataset dataset(v1());
  const ImageReader reader(dataset, "train");
  NodeCopyOptions o = options(copy_dir("nobody_writes"), false, 3);
  o.timeout_s = 0.5;
  o.writer_who = "rank 2";
  const auto start = Clock::now();
  const std::string error = error_of([&] { NodeCopy copy(reader, every_other(reader.size()), o); });
  const double waited = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_NE(error.find("rank 3 on testnode waited 0.5 s (dist.rank0_phase_timeout_s)"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("which rank 2 writes"), std::string::npos) << error;
  EXPECT_NE(error.find(o.dir + "/nxt-copy-"), std::string::npos) << error;
  EXPECT_GE(waited, 0.5);
  EXPECT_LT(waited, 5);
}

TEST_F(NodeCopyTest, ACompleteCopyLeftByAKilledJobIsReusedAndDeadTempsRemoved) {
  const PackedDataset dataset(v1());
  const ImageReader reader(dataset, "train");
  const std::vector<int64_t> indices = every_other(reader.size());
  const std::string dir = copy_dir("requeued");
  std::string name;
  {
    NodeCopy first(reader, indices, options(dir, true, 0));
    name = first.path();
    EXPECT_FALSE(first.reused());
    fs::copy_file(name, path("kept"));  // what a killed job leaves behind
  }
  fs::rename(path("kept"), name);
  // A killed writer's temp file: named after a process that no longer exists.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  // Temp files are NAME.tmp.HOST.PID; another host's are never touched (its PIDs mean nothing
  // here).
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string temp = name + ".tmp." + host + ".";
  const std::string dead_temp = temp + std::to_string(child);
  { std::ofstream(dead_temp) << "half"; }
  const std::string other_hosts_temp = name + ".tmp.elsewhere." + std::to_string(child);
  { std::ofstream(other_hosts_temp) << "another node's writer"; }
  const std::string live_temp = temp + std::to_string(::getppid());
  { std::ofstream(live_temp) << "a live writer's"; }
  NodeCopy again(reader, indices, options(dir, true, 0));
  EXPECT_TRUE(again.reused());
  EXPECT_FALSE(fs::exists(dead_temp)) << "a dead writer's temp file is left";
  EXPECT_TRUE(fs::exists(live_temp)) << "a live process's temp file was removed";
  EXPECT_TRUE(fs::exists(other_hosts_temp)) << "another host's temp file was removed";
  fs::remove(live_temp);
  fs::remove(other_hosts_temp);
  for (int64_t i : indices) {
    const ByteView held = again.find(i);
    ASSERT_EQ(std::vector<uint8_t>(held.data, held.data + held.size), file_bytes(reader, i));
  }
}

TEST_F(NodeCopyTest, AnEmptyShareNeedsNoFile) {
  const PackedDataset dataset(v1());
  const ImageReader reader(dataset, "train");
  const std::string dir = copy_dir("empty");
  NodeCopy writer(reader, {}, options(dir, true, 0));
  NodeCopy waiter(reader, {}, options(dir, false, 1));
  EXPECT_EQ(writer.images(), 0);
  EXPECT_EQ(waiter.find(0).data, nullptr);
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST_F(NodeCopyTest, UnsortedOrRepeatedIndicesAreRefused) {
  const PackedDataset dataset(v1());
  const ImageReader reader(dataset, "train");
  const std::string error = error_of([&] {
    NodeCopy copy(reader, {3, 1}, options(copy_dir("bad"), true, 0));
  });
  EXPECT_NE(error.find("ascending, distinct"), std::string::npos) << error;
}

}  // namespace
}  // namespace nxt
