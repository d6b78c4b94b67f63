// cv::imencode for nxt_make_demo_images in the GPU check's build, which has no OpenCV image
// codecs (NXT_WITH_IMAGE_CODECS=OFF: the device machine has no imgcodecs, and carrying it would
// pull in ~300 MB of libraries). make_demo_images.cpp calls cv::imencode for formats other than
// JPEG whatever the option, so without this its link fails, and nxt_tests, which depends on it,
// cannot be built. tests/gpu/check_project.cmake adds this file to that program in such builds.
// The check never runs the program; were it asked for a PNG, it would say why it cannot.
#include <opencv2/core.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace cv {

bool imencode(const String& ext, InputArray, std::vector<uchar>&, const std::vector<int>&) {
  throw std::runtime_error("cannot encode '" + ext +
                           "' images: built without OpenCV's image codecs "
                           "(NXT_WITH_IMAGE_CODECS=OFF); only JPEG is written");
}

}  // namespace cv
