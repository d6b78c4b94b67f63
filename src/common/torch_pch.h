// Precompiled header: <torch/torch.h> costs ~15 s per translation unit without it.
#pragma once
#include <torch/torch.h>
