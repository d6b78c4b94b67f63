// What communication backends this build has, for start-up banners and backend selection.
#pragma once
#include <string>

namespace nxt {

bool nccl_compiled_in();
// "NCCL 2.x.y (CUDA runtime r, n devices)", or why NCCL is unavailable.
std::string nccl_description();

}  // namespace nxt
