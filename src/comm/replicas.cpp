// Implements the replica checks and the start-up broadcast (one flat buffer per dtype, so the
// broadcast is a handful of large messages rather than hundreds of small ones).
#include "comm/replicas.h"

#include <filesystem>
#include <map>
#include <sstream>

#include "common/check.h"
#include "common/fs.h"
#include "common/hash.h"

namespace nxt {
namespace {

int64_t structure_hash(const NamedTensor& entry) {
  Fnv1a64 hash;
  hash.add(entry.name);
  for (int64_t size : entry.tensor.sizes()) hash.add_value(size);
  hash.add_value(static_cast<int>(entry.tensor.scalar_type()));
  return static_cast<int64_t>(hash.value());
}

std::string describe(const NamedTensor& entry) {
  std::ostringstream out;
  out << "'" << entry.name << "' " << entry.tensor.sizes() << " "
      << c10::toString(entry.tensor.scalar_type());
  return out.str();
}

// The first index at which the ranks' values differ, or -1.
int64_t first_difference(const std::vector<int64_t>& values, Communicator& comm) {
  const auto low = comm.all_reduce_integers(values, ReduceOp::kMin);
  const auto high = comm.all_reduce_integers(values, ReduceOp::kMax);
  for (size_t i = 0; i < values.size(); ++i)
    if (low[i] != high[i]) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace

std::vector<NamedTensor> parameters_and_buffers(const torch::nn::Module& module) {
  std::vector<NamedTensor> state;
  for (const auto& item : module.named_parameters()) state.push_back({item.key(), item.value()});
  for (const auto& item : module.named_buffers()) state.push_back({item.key(), item.value()});
  return state;
}

void check_same_structure(const std::vector<NamedTensor>& state, Communicator& comm) {
  const auto count = static_cast<int64_t>(state.size());
  const auto low = comm.all_reduce_integers({count}, ReduceOp::kMin)[0];
  const auto high = comm.all_reduce_integers({count}, ReduceOp::kMax)[0];
  NXT_CHECK(low == high, "the replicas differ: ranks hold between ", low, " and ", high,
            " parameters and buffers (this rank: ", count,
            "); every rank must build the same model");
  std::vector<int64_t> hashes;
  for (const auto& entry : state) hashes.push_back(structure_hash(entry));
  const int64_t differing = first_difference(hashes, comm);
  NXT_CHECK(differing < 0, "the replicas differ at parameter/buffer ", differing, ": on rank ",
            comm.rank(), " it is ", describe(state[static_cast<size_t>(differing)]),
            ", and some other rank has another name, shape or dtype there");
}

void broadcast_from_rank0(const std::vector<NamedTensor>& state, Communicator& comm) {
  torch::NoGradGuard no_grad;
  std::map<torch::ScalarType, std::vector<torch::Tensor>> by_dtype;
  for (const auto& entry : state) by_dtype[entry.tensor.scalar_type()].push_back(entry.tensor);
  for (auto& [dtype, tensors] : by_dtype) {
    std::vector<torch::Tensor> flat;
    for (const auto& t : tensors) flat.push_back(t.reshape({-1}));
    torch::Tensor buffer = torch::cat(flat);
    comm.broadcast(buffer, 0);
    int64_t offset = 0;
    for (auto& t : tensors) {
      t.copy_(buffer.slice(0, offset, offset + t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

std::vector<char> broadcast_bytes(const std::vector<char>& bytes, int root, Communicator& comm,
                                  torch::Device device) {
  const int64_t size = comm.all_reduce_integers(
      {comm.rank() == root ? static_cast<int64_t>(bytes.size()) : 0}, ReduceOp::kSum)[0];
  if (size == 0) return {};
  torch::Tensor buffer = torch::empty({size}, torch::TensorOptions(torch::kUInt8).device(device));
  if (comm.rank() == root)
    buffer.copy_(torch::from_blob(const_cast<char*>(bytes.data()), {size}, torch::kUInt8));
  comm.broadcast(buffer, root);
  const torch::Tensor host = buffer.to(torch::kCPU).contiguous();
  const auto* data = reinterpret_cast<const char*>(host.data_ptr<uint8_t>());
  return std::vector<char>(data, data + size);
}

std::vector<int64_t> bit_checksums(const std::vector<NamedTensor>& state) {
  torch::NoGradGuard no_grad;
  if (state.empty()) return {};
  std::vector<torch::Tensor> sums;
  for (const auto& entry : state) {
    const torch::Tensor t = entry.tensor.detach().contiguous();
    const auto bits_type = t.element_size() == 8   ? torch::kLong
                           : t.element_size() == 4 ? torch::kInt
                           : t.element_size() == 2 ? torch::kShort
                                                   : torch::kByte;
    // The sum of the raw bit patterns: any single changed bit changes it.
    sums.push_back(t.view(bits_type).sum(torch::kLong));
  }
  // One copy to the host for all of them: on a GPU, one wait instead of one per tensor.
  const torch::Tensor host = torch::stack(sums).to(torch::kCPU);
  return std::vector<int64_t>(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
}

void check_replicas_identical(const std::vector<NamedTensor>& state, Communicator& comm,
                              int64_t step) {
  const int64_t differing = first_difference(bit_checksums(state), comm);
  NXT_CHECK(differing < 0, "replicas diverged at step ", step, ": ",
            describe(state[static_cast<size_t>(differing)]),
            " differs between ranks (a non-deterministic op, or a rank that skipped a step?)");
}

std::optional<std::vector<char>> read_file_on_rank0(const std::string& path, bool missing_ok,
                                                    Communicator& comm, torch::Device device) {
  enum Reply : int64_t { kMissing = 1, kBytes = 2, kError = 3 };
  int64_t reply = 0;
  std::vector<char> bytes;
  if (comm.rank() == 0) {
    try {
      if (missing_ok && !std::filesystem::exists(path)) {
        reply = kMissing;
      } else {
        bytes = read_file_bytes(path);
        reply = kBytes;
      }
    } catch (const std::exception& e) {
      const std::string text = e.what();
      bytes.assign(text.begin(), text.end());
      reply = kError;
    }
  }
  reply = comm.all_reduce_integers({reply}, ReduceOp::kMax)[0];
  if (reply == kMissing) return std::nullopt;
  bytes = broadcast_bytes(bytes, 0, comm, device);
  if (reply == kError)
    throw Error("rank 0: " + std::string(bytes.begin(), bytes.end()));  // names the file
  return bytes;
}

}  // namespace nxt
