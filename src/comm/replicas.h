// Replicas that start identical and stay identical: a structure check across ranks, rank 0's
// parameters and buffers (BatchNorm running statistics included) broadcast at start, and an
// optional periodic comparison of parameter checksums.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "common/torch_pch.h"

namespace nxt {

struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
};

// Parameters, then buffers, with their module-path names.
std::vector<NamedTensor> parameters_and_buffers(const torch::nn::Module& module);

// Every rank must hold the same names, shapes and dtypes. On a mismatch every rank throws,
// naming the first entry that differs and this rank's shape of it.
void check_same_structure(const std::vector<NamedTensor>& state, Communicator& comm);

// Overwrites every rank's parameters and buffers with rank 0's (after check_same_structure).
void broadcast_from_rank0(const std::vector<NamedTensor>& state, Communicator& comm);

// Rank `root`'s `bytes` on every rank (the argument is ignored on the others), sent as a
// tensor on `device` (the communicator's kind). Note [Collective order]: how rank 0's decisions
// reach the others; a resume's newest state may be on another node (checkpoint/snapshots.h).
std::vector<char> broadcast_bytes(const std::vector<char>& bytes, int root, Communicator& comm,
                                  torch::Device device);

// Rank 0 alone reads `path` (Note [Collective order]: the others' file systems may not have
// it, or may lag); every rank gets its bytes, or rank 0's error (naming the file) as an
// nxt::Error on every rank. nullopt on every rank: `missing_ok` and rank 0 sees no file.
std::optional<std::vector<char>> read_file_on_rank0(const std::string& path, bool missing_ok,
                                                    Communicator& comm, torch::Device device);

// One checksum per tensor: the sum of its raw bit patterns, cheap next to a step.
std::vector<int64_t> bit_checksums(const std::vector<NamedTensor>& state);

// Throws on every rank if any rank's parameters differ from the others' in any bit, naming the
// first differing tensor and the step.
void check_replicas_identical(const std::vector<NamedTensor>& state, Communicator& comm,
                              int64_t step);

}  // namespace nxt
