// The image files a prediction run covers: files named on the command line, and the image files
// under named folders (recursively, by extension, as ImageFolder finds them), in a stable order.
#pragma once
#include <string>
#include <vector>

namespace nxt {

// Files named directly are kept whatever their extension (a non-image then fails on its own
// line). Errors name the input: a path that does not exist, a folder with no image files.
std::vector<std::string> collect_image_files(const std::vector<std::string>& inputs);

}  // namespace nxt
