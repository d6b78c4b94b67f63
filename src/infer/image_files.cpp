// Implements the input file walk.
#include "infer/image_files.h"

#include <algorithm>
#include <filesystem>

#include "common/check.h"
#include "data/image_prep.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> images_under(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& entry :
       fs::recursive_directory_iterator(folder, fs::directory_options::follow_directory_symlink)) {
    const std::string path = entry.path().string();
    if (entry.is_regular_file() && has_image_extension(path)) files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  NXT_CHECK(!files.empty(), "'", folder,
            "': no image files in this folder or below (looked for .jpg .jpeg .png .bmp .webp "
            ".tif .tiff .ppm .pgm)");
  return files;
}

}  // namespace

std::vector<std::string> collect_image_files(const std::vector<std::string>& inputs) {
  NXT_CHECK(!inputs.empty(), "no images given: name image files or folders");
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code error;
    const fs::file_status status = fs::status(input, error);
    NXT_CHECK(fs::exists(status), "'", input, "': no such file or folder");
    if (fs::is_directory(status)) {
      const auto found = images_under(input);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(input);
    }
  }
  return files;
}

}  // namespace nxt
