// Tests where a rank's work lands on the hardware: the NUMA nodes of its CPUs and of its GPU,
// read from a /sys tree written here (the same layout as the kernel's), the CPU-list parser
// both read with, how a rank's threads share its CPUs (Note [CPU budget of a rank]) on machines
// faked by their CPU count, and what a rank says when CUDA sees no GPU, from faked answers of
// the driver and from this machine's own.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
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

// Note [CPU budget of a rank] on a GPU: main+autograd+intra_op 1, one CPU for the communication
// threads from 4 CPUs on, the loader the rest (so 12 CPUs give 10 loader threads, not 11), and
// every share at least 1 however few the CPUs.
TEST(CpuBudget, AGpuRankGivesItsLoaderWhatMainAndCommLeave) {
  struct Case {
    int cpus, intra_op, comm, loader, over;
  };
  for (const Case& c : {Case{12, 1, 1, 10, 0}, Case{4, 1, 1, 2, 0}, Case{3, 1, 0, 2, 0},
                        Case{2, 1, 0, 1, 0}, Case{1, 1, 0, 1, 1}}) {
    const CpuBudget budget = cpu_budget(/*gpu=*/true, c.cpus, std::nullopt, std::nullopt);
    SCOPED_TRACE(budget.text());
    EXPECT_EQ(budget.cpus, c.cpus);
    EXPECT_EQ(budget.intra_op, c.intra_op);
    EXPECT_EQ(budget.comm, c.comm);
    EXPECT_EQ(budget.loader, c.loader);
    EXPECT_EQ(budget.over(), c.over);
  }
  EXPECT_EQ(cpu_budget(true, 12, std::nullopt, std::nullopt).text(),
            "main+autograd+intra_op 1, comm 1, loader 10 of 12 cpus");
  EXPECT_EQ(cpu_budget(true, 2, std::nullopt, std::nullopt).text(),
            "main+autograd+intra_op 1, comm shared, loader 1 of 2 cpus");
  EXPECT_EQ(cpu_budget(true, 1, std::nullopt, std::nullopt).text(),
            "main+autograd+intra_op 1, comm shared, loader 1 of 1 cpus (1 over)");
  // No CPUs known (0) counts as 1.
  EXPECT_EQ(cpu_budget(true, 0, std::nullopt, std::nullopt).cpus, 1);
}

// A CPU rank's cores compute (its intra-op threads, configure_rank() passes
// cpu_threads_per_rank()) and its loader adds one thread, as before the budget.
TEST(CpuBudget, ACpuRankComputesOnItsCpusAndItsLoaderAddsOne) {
  const CpuBudget eight = cpu_budget(/*gpu=*/false, 8, std::nullopt, 8);
  EXPECT_EQ(eight.intra_op, 8);
  EXPECT_EQ(eight.comm, 0);
  EXPECT_EQ(eight.loader, 1);
  EXPECT_EQ(eight.text(), "main+autograd+intra_op 8, comm shared, loader 1 of 8 cpus (1 over)");
  EXPECT_EQ(cpu_budget(false, 4, std::nullopt, std::nullopt).intra_op, 4);  // auto: its CPUs
  const CpuBudget one = cpu_budget(false, 1, std::nullopt, 1);
  EXPECT_EQ(one.loader, 1);
  EXPECT_EQ(one.over(), 1);
}

// data.loader_threads and run.threads_per_rank take precedence; extra intra-op threads on a GPU
// come out of the loader's share, and whatever exceeds the CPUs is shown, not hidden.
TEST(CpuBudget, ConfiguredCountsTakePrecedenceAndWhatExceedsIsShown) {
  const CpuBudget six = cpu_budget(/*gpu=*/true, 12, 6, std::nullopt);  // configs/cluster.yaml
  EXPECT_EQ(six.loader, 6);
  EXPECT_EQ(six.over(), 0);
  const CpuBudget sixteen = cpu_budget(true, 12, 16, std::nullopt);
  EXPECT_EQ(sixteen.loader, 16);
  EXPECT_EQ(sixteen.over(), 6);  // 1 + 1 + 16 threads on 12 CPUs
  EXPECT_EQ(sixteen.text(), "main+autograd+intra_op 1, comm 1, loader 16 of 12 cpus (6 over)");
  const CpuBudget wide = cpu_budget(true, 12, std::nullopt, 4);
  EXPECT_EQ(wide.intra_op, 4);
  EXPECT_EQ(wide.loader, 7);  // 12 - 4 - 1
  EXPECT_EQ(wide.over(), 0);
  EXPECT_EQ(cpu_budget(false, 8, 3, 8).loader, 3);
  EXPECT_EQ(cpu_budget(false, 8, 3, 8).over(), 3);
}

// The cluster case: torch's CUDA 13 runtime on a 535 driver (CUDA 12.2). The message names
// both versions, the driver CUDA 13 needs, and both remedies.
TEST(CudaUnavailable, AnOlderDriverNamesBothVersionsAndTheRemedies) {
  CudaAnswers answers;
  answers.driver_version = 12020;
  answers.runtime_version = 13000;
  answers.device_count_error = "CUDA driver version is insufficient for CUDA runtime version";
  const std::string text = cuda_unavailable_text(answers);
  for (const char* part :
       {"device cuda was asked for but", "supports CUDA up to 12.2 and", "runtime is 13.0,",
        "driver 580 or newer", "torch built for CUDA 12",
        "NXT_TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 bash launch/python_env.sh",
        "CUDA 12 toolkit", "update the driver", "[cudaGetDeviceCount: CUDA driver version is"})
    EXPECT_NE(text.find(part), std::string::npos) << "no '" << part << "' in: " << text;
  // Within one major version a newer runtime runs (minor version compatibility): not the cause.
  answers.driver_version = 13000;
  answers.runtime_version = 13020;
  EXPECT_EQ(cuda_unavailable_text(answers).find("newer driver"), std::string::npos);
}

TEST(CudaUnavailable, NoDriverACpuLibTorchAndHiddenGpusEachSaySo) {
  CudaAnswers no_driver;
  no_driver.runtime_version = 13020;
  const std::string driverless = cuda_unavailable_text(no_driver);
  EXPECT_NE(driverless.find("no NVIDIA driver is loaded"), std::string::npos) << driverless;
  EXPECT_NE(driverless.find("runtime is 13.2)"), std::string::npos) << driverless;
  EXPECT_EQ(driverless.find("NXT_TORCH_INDEX_URL"), std::string::npos) << driverless;

  const std::string cpu_build = cuda_unavailable_text(CudaAnswers{});
  EXPECT_NE(cpu_build.find("this LibTorch has no CUDA"), std::string::npos) << cpu_build;

  CudaAnswers hidden;
  hidden.driver_version = 13000;
  hidden.runtime_version = 13000;
  hidden.visible_devices = "";
  const std::string hidden_text = cuda_unavailable_text(hidden);
  EXPECT_NE(hidden_text.find("CUDA_VISIBLE_DEVICES ('')"), std::string::npos) << hidden_text;
  hidden.visible_devices.reset();
  EXPECT_NE(cuda_unavailable_text(hidden).find("CUDA_VISIBLE_DEVICES (unset)"), std::string::npos);
}

// This machine, when it has no GPU: asking for CUDA fails with the message from its own answers.
TEST(CudaUnavailable, ThisMachineSaysWhyItHasNoGpu) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has a GPU";
  const std::string error = error_of([] {
    pick_device(DeviceChoice::kCuda, ProcessPlace{0, 1, 0, 1});
  });
  const std::string expected = cuda_unavailable_text(cuda_answers());
  EXPECT_NE(error.find(expected), std::string::npos) << error;
  std::cout << "this machine: " << expected << "\n";
}

}  // namespace
}  // namespace nxt
