// Tests where a rank's work lands on the hardware: the NUMA nodes of its CPUs and of its GPU,
// read from a /sys tree written here (the same layout as the kernel's), the CPU-list parser
// both read with, and the loader's thread count when data.loader_threads is auto.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "comm/placement.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;
using testing_support::error_of;

void write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

// A two-socket machine as /sys shows it: node0 holds CPUs 0-3 and 8-11, node1 4-7 and 12-15;
// one GPU on node 1 and one whose node the kernel does not know (-1), with the files a real
// node folder also has beside cpulist.
class SysTree : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path root = dir_.path("sys");
    write_file(root / "devices/system/node/node0/cpulist", "0-3,8-11\n");
    write_file(root / "devices/system/node/node1/cpulist", "4-7,12-15\n");
    write_file(root / "devices/system/node/possible", "0-1\n");
    write_file(root / "devices/system/node/has_cpu", "0-1\n");
    write_file(root / "bus/pci/devices/0000:3b:00.0/numa_node", "1\n");
    write_file(root / "bus/pci/devices/0000:af:00.0/numa_node", "-1\n");
  }
  std::string root() const { return dir_.path("sys"); }
  testing_support::TempDir dir_{"placement"};
};

TEST_F(SysTree, AGpuOnTheOtherSocketIsFarFromTheRanksCpus) {
  // CUDA writes the bus id in upper case, /sys in lower case.
  const NumaPlacement far = numa_placement(root(), {0, 1, 8}, "0000:3B:00.0");
  EXPECT_EQ(far.cpu_nodes, std::vector<int>({0}));
  ASSERT_TRUE(far.gpu_node.has_value());
  EXPECT_EQ(*far.gpu_node, 1);
  EXPECT_TRUE(far.gpu_far_from_cpus());
  EXPECT_EQ(far.text(), "cpu_numa=0 gpu_numa=1");

  const NumaPlacement near = numa_placement(root(), {4, 5, 12, 13}, "0000:3B:00.0");
  EXPECT_EQ(near.cpu_nodes, std::vector<int>({1}));
  EXPECT_FALSE(near.gpu_far_from_cpus());
  EXPECT_EQ(near.text(), "cpu_numa=1 gpu_numa=1");

  // A rank spread over both sockets has CPUs next to its GPU: no warning.
  const NumaPlacement both = numa_placement(root(), {3, 4}, "0000:3b:00.0");
  EXPECT_EQ(both.cpu_nodes, std::vector<int>({0, 1}));
  EXPECT_FALSE(both.gpu_far_from_cpus());
  EXPECT_EQ(both.text(), "cpu_numa=0,1 gpu_numa=1");
}

TEST_F(SysTree, UnknownNodesAreShownAndNeverWarnedAbout) {
  const NumaPlacement unknown_gpu = numa_placement(root(), {0}, "0000:AF:00.0");  // -1
  EXPECT_FALSE(unknown_gpu.gpu_node.has_value());
  EXPECT_FALSE(unknown_gpu.gpu_far_from_cpus());
  EXPECT_EQ(unknown_gpu.text(), "cpu_numa=0 gpu_numa=?");

  const NumaPlacement missing_gpu = numa_placement(root(), {0}, "0000:01:00.0");  // no folder
  EXPECT_EQ(missing_gpu.text(), "cpu_numa=0 gpu_numa=?");

  const NumaPlacement cpu_rank = numa_placement(root(), {5, 6}, "");
  EXPECT_EQ(cpu_rank.text(), "cpu_numa=1");  // a CPU run logs its CPUs' nodes only

  const NumaPlacement no_sys = numa_placement(dir_.path("absent"), {0}, "0000:3b:00.0");
  EXPECT_TRUE(no_sys.cpu_nodes.empty());
  EXPECT_FALSE(no_sys.gpu_far_from_cpus());
  EXPECT_EQ(no_sys.text(), "cpu_numa=? gpu_numa=?");
}

// This machine's own /sys, where it has NUMA nodes: the rank's CPUs are on one or more of them.
TEST(Numa, ThisProcessIsOnTheMachinesNodes) {
  const NumaPlacement mine = numa_placement_of(torch::kCPU);
  EXPECT_EQ(mine.text().rfind("cpu_numa=", 0), 0u) << mine.text();
  EXPECT_FALSE(mine.gpu);
  if (!fs::exists("/sys/devices/system/node/node0/cpulist"))
    GTEST_SKIP() << "no NUMA nodes in this machine's /sys";
  EXPECT_FALSE(mine.cpu_nodes.empty()) << mine.text();
}

TEST(CpuList, RangesAndSinglesExpandAndBadTextIsNamed) {
  EXPECT_EQ(parse_cpu_list("0-3,8"), std::vector<int>({0, 1, 2, 3, 8}));
  EXPECT_EQ(parse_cpu_list("5\n"), std::vector<int>({5}));
  EXPECT_TRUE(parse_cpu_list("").empty());
  EXPECT_NE(error_of([] { parse_cpu_list("0-3,x"); }).find("CPU list '0-3,x'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_cpu_list("7-2"); }).find("runs backwards"), std::string::npos);
  // allowed_cpus() writes what parse_cpu_list reads.
  EXPECT_EQ(static_cast<int>(parse_cpu_list(allowed_cpus().list).size()), allowed_cpus().count);
}

// data.loader_threads: auto. A GPU rank's loader takes its CPUs but the one driving the GPU (so
// 8 CPUs per rank give 7 threads, not a fixed 4); a CPU rank's loader 1, its cores compute.
TEST(LoaderThreads, AutoFollowsTheRanksCpusOnAGpu) {
  EXPECT_EQ(auto_loader_threads(/*cuda=*/true, 8), 7);
  EXPECT_EQ(auto_loader_threads(true, 18), 17);
  EXPECT_EQ(auto_loader_threads(true, 1), 1);  // never 0
  EXPECT_EQ(auto_loader_threads(/*cuda=*/false, 8), 1);
}

}  // namespace
}  // namespace nxt
