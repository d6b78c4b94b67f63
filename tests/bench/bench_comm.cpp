// Benchmark (not a test), under mpirun with 2 ranks of 1 thread each:
//  1. MPI all-reduce bandwidth, 1 MB to 256 MB of float32, against a plain memcpy of the size;
//  2. a training step of a mid-size ResNeXt on 32px images with the reducer, against the same
//     step with no communication, interleaved in one run so both see the same machine load;
//  3. the share of all-reduce time hidden behind backward.
//   nxt_bench_comm [--steps N] [--batch B] [--bucket-mb M]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "comm/mpi_communicator.h"
#include "comm/reducer.h"
#include "common/check.h"
#include "common/mpi_env.h"
#include "model/resnext.h"
#include "model/summary.h"

namespace nxt {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void bench_bandwidth(Communicator& comm) {
  if (comm.rank() == 0)
    std::cout << "| size | all-reduce | memcpy | ratio |\n| --- | --- | --- | --- |\n";
  for (int64_t mb : {1, 4, 16, 64, 100, 256}) {
    const int64_t n = mb * 1024 * 1024 / 4;
    torch::Tensor data = torch::ones({n});
    torch::Tensor copy = torch::empty({n});
    const int repeats = mb <= 16 ? 10 : 3;
    comm.all_reduce(data, ReduceOp::kSum);  // warm-up: page faults, connections
    comm.barrier();
    auto start = Clock::now();
    for (int i = 0; i < repeats; ++i) comm.all_reduce(data, ReduceOp::kSum);
    const double reduce_s = seconds_since(start) / repeats;
    std::memcpy(copy.data_ptr(), data.data_ptr(), n * 4);
    start = Clock::now();
    for (int i = 0; i < repeats; ++i) std::memcpy(copy.data_ptr(), data.data_ptr(), n * 4);
    const double copy_s = seconds_since(start) / repeats;
    if (comm.rank() == 0)
      std::cout << "| " << mb << " MB | " << std::fixed << std::setprecision(2)
                << mb / 1024.0 / reduce_s << " GB/s | " << mb / 1024.0 / copy_s << " GB/s | "
                << std::setprecision(0) << 100.0 * copy_s / reduce_s << "% |" << std::endl;
  }
}

ResNeXtSpec mid_size_spec() {
  ResNeXtSpec spec;
  spec.blocks = {2, 2, 2};
  spec.cardinality = 16;
  spec.width_per_group = 4;
  spec.stem_width = 32;
  spec.stem = StemKind::kCifar;
  spec.num_classes = 10;
  return spec;
}

struct StepStats {
  double local_s = 0, reduced_s = 0, comm_s = 0, hidden_s = 0;
};

void bench_steps(Communicator& comm, int steps, int64_t batch, double bucket_mb) {
  torch::manual_seed(1);
  ResNeXt local(mid_size_spec()), reduced(mid_size_spec());
  std::vector<NamedTensor> params;
  for (const auto& item : reduced->named_parameters()) params.push_back({item.key(), item.value()});
  Reducer reducer(params, comm, {bucket_mb});
  torch::optim::SGD local_opt(local->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  torch::optim::SGD reduced_opt(reduced->parameters(),
                                torch::optim::SGDOptions(0.01).momentum(0.9));
  const torch::Tensor x = torch::randn({batch, 3, 32, 32});
  const torch::Tensor y = torch::randint(0, 10, {batch}, torch::kLong);
  StepStats stats;
  for (int step = -2; step < steps; ++step) {  // two warm-up steps
    auto start = Clock::now();
    local_opt.zero_grad();
    torch::nn::functional::cross_entropy(local->forward(x), y).backward();
    local_opt.step();
    const double local_s = seconds_since(start);

    comm.barrier();
    start = Clock::now();
    reducer.zero_grad();
    torch::nn::functional::cross_entropy(reduced->forward(x), y).backward();
    const auto backward_end = Clock::now();
    reducer.finish_backward();
    reduced_opt.step();
    const double reduced_s = seconds_since(start);
    if (step < 0) continue;
    stats.local_s += local_s;
    stats.reduced_s += reduced_s;
    for (const auto& t : reducer.last_timings()) {
      if (!t.started || !t.finished) continue;  // finish_backward waited: both are known
      stats.comm_s += std::chrono::duration<double>(*t.finished - *t.started).count();
      const auto hidden_end = std::min(*t.finished, backward_end);
      if (hidden_end > *t.started)
        stats.hidden_s += std::chrono::duration<double>(hidden_end - *t.started).count();
    }
  }
  if (comm.rank() != 0) return;
  std::cout << std::setprecision(1) << "\nmid-size ResNeXt " << count_parameters(*reduced) / 1e6
            << " M params, 32px, batch " << batch << " per rank, " << reducer.bucket_count()
            << " buckets of " << bucket_mb << " MB, " << steps << " steps\n"
            << std::setprecision(3)
            << "step without communication (same rank, interleaved): " << stats.local_s / steps
            << " s\nstep with the reducer on " << comm.world_size()
            << " ranks: " << stats.reduced_s / steps << " s (overhead " << std::setprecision(1)
            << 100.0 * (stats.reduced_s / stats.local_s - 1)
            << "%)\nall-reduce time per step: " << std::setprecision(3) << stats.comm_s / steps
            << " s, hidden behind backward: " << std::setprecision(0)
            << 100.0 * stats.hidden_s / std::max(stats.comm_s, 1e-12) << "%" << std::endl;
}

int run(int argc, char** argv) {
  int steps = 10;
  int64_t batch = 16;
  double bucket_mb = 25;
  CLI::App app("nxt communication benchmark");
  app.add_option("--steps", steps);
  app.add_option("--batch", batch);
  app.add_option("--bucket-mb", bucket_mb);
  CLI11_PARSE(app, argc, argv);
  MpiSession mpi(&argc, &argv);
  torch::set_num_threads(1);
  MpiCommunicator comm({mpi.rank(), mpi.world_size(), mpi.local_rank(), mpi.local_size()});
  bench_bandwidth(comm);
  bench_steps(comm, steps, batch, bucket_mb);
  return 0;
}

}  // namespace
}  // namespace nxt

int main(int argc, char** argv) {
  return nxt::run_guarded([&] { return nxt::run(argc, argv); });
}
