// GoogleTest under real mpirun (2 and 3 ranks): the MPI communicator's collectives for every
// dtype and size, the start-up broadcast and structure check, and the gradient reducer:
// equivalence with one rank on the whole batch, bucketing, overlap, gradient accumulation and
// unused parameters. Every rank runs every test; the exit code is non-zero if any rank failed.
// Tests whose results are identities on one rank skip there (NXT_NEEDS_TWO_RANKS).
//
// With --throw-in-backward-on-rank=R it instead trains and throws from inside backward on rank
// R, for the failure test (tests/e2e/mpi_rank_fails.sh): the job must end, not hang.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>

#include "comm/mpi_communicator.h"
#include "comm/reducer.h"
#include "comm/replicas.h"
#include "common/check.h"
#include "common/hash.h"
#include "common/mpi_env.h"
#include "model/resnext.h"
#include "tiny_model.h"

namespace nxt {
namespace {

using testing_support::tiny_spec;

MpiSession* mpi = nullptr;

// Sums, broadcasts and "equal on every rank" are identities on one rank: a collective that
// moves nothing passes there. Tests of their results skip below 2 ranks with this reason, and
// ctest, which runs 2 and 3 ranks, fails on the reason (tests/CMakeLists.txt), so a launch that
// gave every process a world of its own cannot pass by skipping.
#define NXT_NEEDS_TWO_RANKS(world, why)                             \
  do {                                                              \
    if ((world) < 2) GTEST_SKIP() << "needs >= 2 ranks: " << (why); \
  } while (0)

ProcessPlace place() {
  return {mpi->rank(), mpi->world_size(), mpi->local_rank(), mpi->local_size()};
}

// True on every rank iff `tensor` holds the same bits on every rank.
bool same_on_all_ranks(const torch::Tensor& tensor, Communicator& comm) {
  const torch::Tensor bits =
      tensor.detach().contiguous().view(tensor.element_size() == 4   ? torch::kInt
                                        : tensor.element_size() == 8 ? torch::kLong
                                                                     : torch::kShort);
  torch::Tensor low = bits.clone(), high = bits.clone();
  comm.all_reduce(low, ReduceOp::kMin);
  comm.all_reduce(high, ReduceOp::kMax);
  return torch::equal(low, high);
}

// ---- collectives ---------------------------------------------------------------------------

class Collectives : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(Collectives, AllReduceIsExactForEverySize) {
  MpiCommunicatorOptions small_chunks;
  small_chunks.max_elements_per_call = 1000;  // so the large sizes take several MPI calls
  small_chunks.shm_segment_bytes = 1 << 16;   // and several shared-memory chunks
  MpiCommunicator comm(place(), MPI_COMM_WORLD, small_chunks);
  const int world = comm.world_size(), rank = comm.rank();
  NXT_NEEDS_TWO_RANKS(world, "on one rank every reduction returns its input");
  const auto dtype = GetParam();
  const bool floating = c10::isFloatingType(dtype);
  for (int64_t n : {1, 2, 7, 999, 1000, 1001, 65537, 3 * 262144 + 5}) {
    // Small integers: exact in every dtype, so the expected sums are exact too.
    const torch::Tensor base = torch::arange(n, torch::kLong).remainder(7);
    torch::Tensor sum = (base + rank).to(dtype);
    torch::Tensor low = sum.clone(), high = sum.clone(), average = sum.clone();
    comm.all_reduce(sum, ReduceOp::kSum);
    comm.all_reduce(low, ReduceOp::kMin);
    comm.all_reduce(high, ReduceOp::kMax);
    EXPECT_TRUE(torch::equal(sum, (base * world + world * (world - 1) / 2).to(dtype))) << n;
    EXPECT_TRUE(torch::equal(low, base.to(dtype))) << n;
    EXPECT_TRUE(torch::equal(high, (base + world - 1).to(dtype))) << n;
    if (floating) {
      comm.all_reduce(average, ReduceOp::kAverage);
      EXPECT_TRUE(torch::equal(average, (base.to(torch::kDouble) + (world - 1) / 2.0).to(dtype)))
          << n;
    }
  }
}

TEST_P(Collectives, BroadcastCopiesTheRootEverywhere) {
  MpiCommunicatorOptions small_chunks;
  small_chunks.max_elements_per_call = 777;
  MpiCommunicator comm(place(), MPI_COMM_WORLD, small_chunks);
  NXT_NEEDS_TWO_RANKS(comm.world_size(), "on one rank the root already holds its values");
  const int root = comm.world_size() - 1;
  for (int64_t n : {1, 5, 10000}) {
    torch::Tensor t = (torch::arange(n, torch::kLong).remainder(5) + comm.rank()).to(GetParam());
    comm.broadcast(t, root);
    EXPECT_TRUE(
        torch::equal(t, (torch::arange(n, torch::kLong).remainder(5) + root).to(GetParam())));
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Collectives,
                         ::testing::Values(torch::kFloat, torch::kDouble, torch::kHalf,
                                           torch::kBFloat16, torch::kInt, torch::kLong,
                                           torch::kByte),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

TEST(Communicator, ScalarReductionsAreExact) {
  MpiCommunicator comm(place());
  const int world = comm.world_size();
  NXT_NEEDS_TWO_RANKS(world, "on one rank every reduction returns its input");
  const auto sums = comm.all_reduce_scalars({1.0, 0.5 * comm.rank(), 3.0}, ReduceOp::kSum);
  EXPECT_EQ(sums, (std::vector<double>{double(world), 0.25 * world * (world - 1), 3.0 * world}));
  EXPECT_EQ(comm.all_reduce_integers({comm.rank()}, ReduceOp::kMax)[0], world - 1);
  EXPECT_EQ(comm.all_reduce_scalars({double(comm.rank())}, ReduceOp::kAverage)[0],
            (world - 1) / 2.0);
  comm.barrier();
}

// Note [MPI thread level]: the watchdog may MPI_Abort while the communication thread is inside
// MPI, which only MPI_THREAD_MULTIPLE allows.
TEST(MpiSession, ProvidesTheThreadLevelThatAbortFromAnyThreadNeeds) {
  int level = MPI_THREAD_SINGLE;
  ASSERT_EQ(MPI_Query_thread(&level), MPI_SUCCESS);
  EXPECT_EQ(level, MPI_THREAD_MULTIPLE);
  MpiCommunicator comm(place());  // its constructor checks the level too
  EXPECT_EQ(comm.all_reduce_integers({1}, ReduceOp::kSum)[0], comm.world_size());
}

// Note [Watchdog]: inside a Rank0Phase the ranks that wait for rank 0 get the phase deadline,
// rank 0 keeps the collective one; every collective is in the flight record, in issue order,
// with the same sequence number on every rank.
TEST(Communicator, Rank0PhaseDeadlinesAndFlightRecord) {
  MpiCommunicatorOptions options;
  options.timeouts = {std::chrono::seconds(7), std::chrono::seconds(70)};
  MpiCommunicator comm(place(), MPI_COMM_WORLD, options);
  NXT_NEEDS_TWO_RANKS(comm.world_size(), "the phase deadline is for ranks other than 0");
  comm.barrier();
  {
    const Communicator::Rank0Phase phase(comm);
    comm.all_reduce_integers({1}, ReduceOp::kSum);
  }
  torch::Tensor bucket = torch::ones({1000});
  comm.all_reduce_async(bucket, ReduceOp::kSum, /*bucket=*/4)->wait();
  const std::vector<FlightEntry> record = comm.flight_recorder().snapshot();
  ASSERT_GE(record.size(), 3u);
  const FlightEntry& barrier = record[record.size() - 3];
  const FlightEntry& in_phase = record[record.size() - 2];
  const FlightEntry& reduce = record.back();
  EXPECT_EQ(barrier.kind, "barrier");
  EXPECT_EQ(barrier.deadline, std::chrono::seconds(7));
  EXPECT_EQ(in_phase.kind, "host all-reduce");
  EXPECT_EQ(in_phase.deadline, std::chrono::seconds(comm.rank() == 0 ? 7 : 70));
  EXPECT_STREQ(in_phase.deadline_key,
               comm.rank() == 0 ? "dist.timeout_s" : "dist.rank0_phase_timeout_s");
  EXPECT_EQ(reduce.bucket, 4);
  EXPECT_EQ(reduce.bytes, 4000);
  EXPECT_EQ(reduce.deadline, std::chrono::seconds(7)) << "the phase ended with its scope";
  for (const FlightEntry& e : record) {
    EXPECT_TRUE(e.done()) << "#" << e.sequence;
    EXPECT_LE(e.enqueued, e.started);
    EXPECT_LE(e.started, e.finished);
  }
  const std::vector<int64_t> sequence{reduce.sequence};
  EXPECT_EQ(comm.all_reduce_integers(sequence, ReduceOp::kMin), sequence)
      << "sequence numbers differ between ranks";
}

// ---- NCCL (runs where this build has a CUDA LibTorch and NCCL, and every rank has a GPU) -----

// Why this process cannot run the NCCL tests; "" when it can.
std::string why_no_nccl_here() {
#if !(defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA))
  return "NCCL communicator not built (needs the CUDA toolkit, NCCL and a CUDA LibTorch)";
#else
  if (!torch::cuda::is_available() ||
      torch::cuda::device_count() < static_cast<int64_t>(mpi->local_size()))
    return "no GPU for every rank on this node (" + std::to_string(torch::cuda::device_count()) +
           " visible, " + std::to_string(mpi->local_size()) + " local ranks)";
  return "";
#endif
}

torch::Device local_gpu() {
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(mpi->local_rank())};
}

// What one rank (the one-GPU device check) shows: NCCL starts on the GPU and its calls complete.
// Not that they compute anything: that needs the next test, on >= 2 GPUs.
TEST(Nccl, StartsOnTheGpuAndItsCollectivesComplete) {
  if (const std::string why = why_no_nccl_here(); !why.empty()) GTEST_SKIP() << why;
  auto comm = make_communicator(DistBackend::kAuto, local_gpu(), place());
  EXPECT_EQ(comm->backend_name(), "nccl");
  torch::Tensor t = torch::ones({1001}, torch::TensorOptions(local_gpu()));
  comm->all_reduce(t, ReduceOp::kSum);
  comm->broadcast(t, 0);
  comm->barrier();
  EXPECT_TRUE(torch::equal(t.cpu(), torch::full({1001}, comm->world_size(), torch::kFloat)));
}

TEST(Nccl, SumsBroadcastsAndReducedGradientsAgreeAcrossRanks) {
  if (const std::string why = why_no_nccl_here(); !why.empty()) GTEST_SKIP() << why;
  NXT_NEEDS_TWO_RANKS(mpi->world_size(),
                      "NCCL's results across ranks (one GPU per rank; NCCL refuses two ranks "
                      "on one GPU)");
  const torch::Device gpu = local_gpu();
  auto comm = make_communicator(DistBackend::kAuto, gpu, place());
  const int world = comm->world_size(), rank = comm->rank();
  for (auto dtype : {torch::kFloat, torch::kBFloat16, torch::kHalf, torch::kDouble, torch::kLong}) {
    for (int64_t n : {1, 1001, 3 * 262144 + 5}) {
      const torch::Tensor base = torch::arange(n, torch::kLong).remainder(7);
      torch::Tensor sum = (base + rank).to(dtype).to(gpu);
      comm->all_reduce(sum, ReduceOp::kSum);
      EXPECT_TRUE(torch::equal(sum.cpu(), (base * world + world * (world - 1) / 2).to(dtype)));
    }
  }
  torch::Tensor t = torch::full({5}, rank, torch::TensorOptions(gpu));
  comm->broadcast(t, 0);
  EXPECT_TRUE(torch::equal(t.cpu(), torch::zeros({5})));
  torch::manual_seed(7);
  ResNeXt model(tiny_spec());
  model->to(gpu);
  model->eval();
  std::vector<NamedTensor> params;
  for (const auto& item : model->named_parameters()) params.push_back({item.key(), item.value()});
  Reducer reducer(params, *comm, {/*bucket_mb=*/0.01});
  torch::manual_seed(100 + rank);  // a different batch on every rank: different gradients
  torch::nn::functional::cross_entropy(model->forward(torch::randn({4, 3, 32, 32}).to(gpu)),
                                       torch::randint(0, 3, {4}, torch::kLong).to(gpu))
      .backward();
  reducer.finish_backward();
  for (const auto& p : params) EXPECT_TRUE(same_on_all_ranks(p.tensor.grad(), *comm)) << p.name;
}

// ---- replicas ------------------------------------------------------------------------------

TEST(Replicas, BroadcastMakesParametersAndBuffersBitwiseEqual) {
  MpiCommunicator comm(place());
  NXT_NEEDS_TWO_RANKS(comm.world_size(), "rank 1's replica is corrupted");
  torch::manual_seed(100 + comm.rank());  // a different init on every rank
  ResNeXt model(tiny_spec());
  model->train();
  model->forward(torch::randn({4, 3, 32, 32}));  // different BatchNorm running stats too
  const auto state = parameters_and_buffers(*model);
  check_same_structure(state, comm);
  EXPECT_FALSE(same_on_all_ranks(state.front().tensor, comm));
  broadcast_from_rank0(state, comm);
  for (const auto& entry : state) EXPECT_TRUE(same_on_all_ranks(entry.tensor, comm)) << entry.name;
  EXPECT_NO_THROW(check_replicas_identical(state, comm, 0));
  // One flipped bit on the last rank is caught, on every rank, naming the tensor.
  if (comm.rank() == comm.world_size() - 1) {
    torch::NoGradGuard no_grad;
    auto bits = state[3].tensor.view({-1}).view(torch::kInt);
    bits[0].add_(1);
  }
  const std::string error = [&] {
    try {
      check_replicas_identical(state, comm, 17);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  }();
  EXPECT_NE(error.find("diverged at step 17"), std::string::npos) << error;
  EXPECT_NE(error.find(state[3].name), std::string::npos) << error;
}

TEST(Replicas, StructureMismatchIsAnErrorOnEveryRank) {
  MpiCommunicator comm(place());
  NXT_NEEDS_TWO_RANKS(comm.world_size(), "ranks with different models");
  ResNeXt model(tiny_spec(comm.rank() == 0 ? 3 : 4));
  try {
    check_same_structure(parameters_and_buffers(*model), comm);
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos) << e.what();
  }
}

// ---- reducer -------------------------------------------------------------------------------

std::vector<NamedTensor> trainable(const torch::nn::Module& module) {
  std::vector<NamedTensor> params;
  for (const auto& item : module.named_parameters()) params.push_back({item.key(), item.value()});
  return params;
}

struct Batch32 {
  torch::Tensor images, labels;
};
// The same global batch on every rank (a fixed seed), `size` samples.
Batch32 global_batch(int64_t size, int step) {
  torch::manual_seed(1000 + step);
  return {torch::randn({size, 3, 32, 32}), torch::randint(0, 3, {size}, torch::kLong)};
}

ResNeXt frozen_bn_model() {
  torch::manual_seed(7);
  ResNeXt model(tiny_spec());
  model->eval();  // BatchNorm uses its running stats: no batch-size dependence
  return model;
}

TEST(Reducer, TwoRanksEqualOneRankWithTheWholeBatch) {
  MpiCommunicator comm(place());
  const int world = comm.world_size(), rank = comm.rank();
  NXT_NEEDS_TWO_RANKS(world, "one rank's gradient already is the whole batch's");
  const int64_t per_rank = 4;
  ResNeXt model = frozen_bn_model(), reference = frozen_bn_model();
  Reducer reducer(trainable(*model), comm, {/*bucket_mb=*/0.01});
  ASSERT_GT(reducer.bucket_count(), 2);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::SGD reference_optimizer(reference->parameters(),
                                        torch::optim::SGDOptions(0.1).momentum(0.9));
  for (int step = 0; step < 4; ++step) {
    const Batch32 batch = global_batch(per_rank * world, step);
    reducer.zero_grad();
    const int64_t calls_before = comm.all_reduce_calls();
    torch::nn::functional::cross_entropy(
        model->forward(batch.images.narrow(0, rank * per_rank, per_rank)),
        batch.labels.narrow(0, rank * per_rank, per_rank))
        .backward();
    reducer.finish_backward();
    EXPECT_EQ(comm.all_reduce_calls() - calls_before, reducer.bucket_count());
    optimizer.step();

    reference_optimizer.zero_grad();
    torch::nn::functional::cross_entropy(reference->forward(batch.images), batch.labels).backward();
    reference_optimizer.step();

    const auto params = model->named_parameters();
    const auto expected = reference->named_parameters();
    for (const auto& item : params) {
      ASSERT_TRUE(same_on_all_ranks(item.value(), comm)) << "step " << step << " " << item.key();
      const torch::Tensor want = expected[item.key()];
      const double scale = want.abs().max().item<double>() + 1e-12;
      EXPECT_LE((item.value() - want).abs().max().item<double>() / scale, 1e-5)
          << "step " << step << " " << item.key();
    }
  }
}

TEST(Reducer, BucketsFollowReverseRegistrationOrderAndAgreeAcrossRanks) {
  MpiCommunicator comm(place());
  ResNeXt model = frozen_bn_model();
  const auto params = trainable(*model);
  Reducer per_parameter(params, comm, {/*bucket_mb=*/0});
  EXPECT_EQ(per_parameter.bucket_count(), static_cast<int64_t>(params.size()));
  Reducer bucketed(params, comm, {/*bucket_mb=*/0.02});
  const auto layout = bucketed.bucket_layout();
  EXPECT_EQ(layout.front().front(), params.back().name);  // fc.bias: its gradient comes first
  EXPECT_EQ(layout.back().back(), params.front().name);
  std::vector<int64_t> hashes;
  for (const auto& bucket : layout) {
    Fnv1a64 hash;
    for (const auto& name : bucket) hash.add(name);
    hashes.push_back(static_cast<int64_t>(hash.value()));
  }
  const auto low = comm.all_reduce_integers(hashes, ReduceOp::kMin);
  EXPECT_EQ(low, hashes) << "bucket layout differs between ranks";
  EXPECT_EQ(comm.all_reduce_integers(hashes, ReduceOp::kMax), hashes);
}

TEST(Reducer, FirstBucketIsReducedWhileBackwardIsStillRunning) {
  MpiCommunicator comm(place());
  ResNeXt model = frozen_bn_model();
  Reducer reducer(trainable(*model), comm, {/*bucket_mb=*/0.01});
  const Batch32 batch = global_batch(8, 0);
  torch::nn::functional::cross_entropy(model->forward(batch.images), batch.labels).backward();
  const auto backward_done = CommWork::Clock::now();
  reducer.finish_backward();
  const auto timings = reducer.last_timings();
  EXPECT_LT(timings.front().launched, backward_done);
  ASSERT_TRUE(timings.front().started) << "the first bucket's start is not known";
  EXPECT_LT(*timings.front().started, backward_done);
}

TEST(Reducer, AccumulationCommunicatesOnlyOnTheLastMicroBatch) {
  MpiCommunicator comm(place());
  const int world = comm.world_size(), rank = comm.rank();
  ResNeXt model = frozen_bn_model(), reference = frozen_bn_model();
  Reducer reducer(trainable(*model), comm, {/*bucket_mb=*/0.01});
  const Batch32 batch = global_batch(4 * world, 0);
  reducer.zero_grad();
  const int64_t calls_before = comm.all_reduce_calls();
  for (int micro = 0; micro < 2; ++micro) {
    reducer.set_sync(micro == 1);
    const int64_t first = rank * 4 + micro * 2;
    (torch::nn::functional::cross_entropy(model->forward(batch.images.narrow(0, first, 2)),
                                          batch.labels.narrow(0, first, 2)) /
     2)
        .backward();
    reducer.finish_backward();
    EXPECT_EQ(comm.all_reduce_calls() - calls_before, micro == 0 ? 0 : reducer.bucket_count());
  }
  torch::nn::functional::cross_entropy(reference->forward(batch.images), batch.labels).backward();
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor want = reference->named_parameters()[item.key()].grad();
    EXPECT_TRUE(torch::allclose(item.value().grad(), want, 1e-4, 1e-6)) << item.key();
  }
}

struct WithSpareImpl : torch::nn::Module {
  WithSpareImpl() {
    used = register_module("used", torch::nn::Linear(4, 2));
    spare = register_module("spare", torch::nn::Linear(4, 2));
  }
  torch::nn::Linear used{nullptr}, spare{nullptr};
};

TEST(Reducer, UnusedParametersAreAnErrorUnlessAllowed) {
  MpiCommunicator comm(place());
  for (bool allow : {false, true}) {
    WithSpareImpl module;
    Reducer reducer(trainable(module), comm, {/*bucket_mb=*/0, allow});
    module.used->forward(torch::ones({3, 4})).sum().backward();
    if (!allow) {
      try {
        reducer.finish_backward();
        ADD_FAILURE() << "no error";
      } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("'spare.weight'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("allow_unused_parameters"), std::string::npos);
      }
      comm.barrier();  // the buckets launched before the error complete on every rank alike
    } else {
      reducer.finish_backward();
      EXPECT_EQ(module.spare->weight.grad().abs().sum().item<double>(), 0.0);
      EXPECT_GT(module.used->weight.grad().abs().sum().item<double>(), 0.0);
    }
  }
}

// ---- the failure scenario ------------------------------------------------------------------

int train_and_throw_in_backward(int failing_rank) {
  MpiCommunicator comm(place());
  ResNeXt model = frozen_bn_model();
  Reducer reducer(trainable(*model), comm, {/*bucket_mb=*/0.01});
  for (int step = 0;; ++step) {
    const Batch32 batch = global_batch(4, step);
    torch::Tensor features = model->forward_stem(batch.images);
    if (comm.rank() == failing_rank && step == 2)
      features.register_hook([step](torch::Tensor grad) -> torch::Tensor {
        throw Error("injected failure in backward at step " + std::to_string(step));
      });
    torch::Tensor x = features;
    for (auto stage : model->stages()) x = stage->forward(x);
    torch::nn::functional::cross_entropy(model->forward_head(x), batch.labels).backward();
    reducer.finish_backward();
  }
}

}  // namespace
}  // namespace nxt

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    nxt::MpiSession mpi(&argc, &argv);
    nxt::mpi = &mpi;
    torch::set_num_threads(1);
    const std::string fail_flag = "--throw-in-backward-on-rank=";
    for (int i = 1; i < argc; ++i)
      if (std::strncmp(argv[i], fail_flag.c_str(), fail_flag.size()) == 0)
        return nxt::train_and_throw_in_backward(std::atoi(argv[i] + fail_flag.size()));
    ::testing::InitGoogleTest(&argc, argv);
    if (mpi.rank() != 0) {  // one rank prints; every rank's failures still count
      auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
    }
    int failed = RUN_ALL_TESTS() != 0;
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (failed && mpi.rank() == 0) std::cerr << "some rank failed a test" << std::endl;
    return failed;
  });
}
