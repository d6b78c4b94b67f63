// The input resolution of training and evaluation, derived from the data.* keys in one place,
// so that the trainer, nxt_eval and nxt_predict (through the checkpoint's preprocess record)
// agree: the training size of each epoch (FFCV's progressive low-resolution training) and the
// evaluation size and centre crop (FixRes: evaluating larger than training).
//
// Note [Training size schedule]: the training size is a function of the epoch number alone
// (not of a step count or a world size), so a resumed run, on any number of ranks, trains each
// epoch at the size an uninterrupted run would. It is FFCV's get_resolution
// (ffcv-imagenet's train_imagenet.py), with its 0-based epochs and ramp shifted to our 1-based
// ones, which leaves the formula unchanged:
//   epoch <= from: train_size;  epoch >= to: train_size_end;
//   else round(interp(epoch, [from, to], [train_size, train_size_end]) / 32) * 32,
// interp being numpy's (slope * (epoch - from) + train_size) and round numpy's, half to even
// (1.5 -> 2, 2.5 -> 2). FFCV's start_ramp 65, end_ramp 76 are data.train_size_ramp [66, 77].
#pragma once
#include <cstdint>
#include <string>

#include "common/config.h"

namespace nxt {

// The training input size (square) of epoch `epoch_number` (1-based, as in the logs and
// data.train_size_ramp). Needs a config that passed validate() (sizes of a ramp are multiples
// of 32, from < to).
int64_t train_size_at(const DataConfig& data, int64_t epoch_number);

// numpy's round to the nearest integer, ties to the even one (np.round, np.rint).
double round_half_even(double value);

// The evaluation input size: data.eval_size, else data.image_size.
int64_t eval_size(const DataConfig& data);

// The fraction of each stored side that evaluation centre-crops before resizing to
// eval_size(): eval_size / eval_resize when data.eval_resize is set (torchvision's Resize(R) +
// CenterCrop(S) on a square image), else data.eval_crop_ratio.
double eval_crop_ratio(const DataConfig& data);

// Evaluation on format version 2 data (images at their own aspect ratio): the shorter side
// torchvision's Resize gives before CenterCrop(eval_size()): data.eval_resize, else
// round(eval_size / data.eval_crop_ratio) (Python's round, ties to even; ratio 1: eval_size
// itself, the centre square of the resized image). Checkpoints record it (Preprocess::eval_resize).
int64_t eval_resize_shorter(const DataConfig& data);

// The shorter side whose centre crop of `crop_side` is `crop_ratio` of it: round(crop_side /
// crop_ratio), ties to even. eval_resize_shorter() without data.eval_resize, and the loader's
// default for version 2 evaluation.
int64_t shorter_side_for_crop(int64_t crop_side, double crop_ratio);

// The largest side the preparation works at: the training sizes, eval_size and eval_resize.
// Images stored smaller than it are upsampled somewhere (the log warns).
int64_t largest_input_size(const DataConfig& data);

// One line for the log: the training sizes (and ramp) and the evaluation size and crop, the
// latter as version 2 data (max_side > 0: eval_resize_shorter) or version 1 data has it.
std::string resolution_text(const DataConfig& data, int64_t max_side = 0);

}  // namespace nxt
