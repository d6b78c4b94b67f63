// OpenCV's image codec functions that nxt's tools and tests call whatever NXT_WITH_IMAGE_CODECS
// says (make_demo_images.cpp: cv::imencode; tests/unit/test_pack.cpp: cv::imread, cv::imwrite),
// for the GPU check's build, which has no image codecs (the device machine has no imgcodecs,
// and carrying it would pull in ~300 MB of libraries). Without them nxt_make_demo_images and
// nxt_tests do not link, and the check needs nxt_tests. tests/gpu/check_project.cmake adds this
// file to those two programs in such builds. Each says why it cannot work, in the words nxt uses
// (NXT_WITH_IMAGE_CODECS=OFF), so that the tests that need images fail saying so.
#include <opencv2/core.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace cv {
namespace {

[[noreturn]] void no_codecs(const std::string& what) {
  throw std::runtime_error(what +
                           ": this build has no OpenCV image codecs (NXT_WITH_IMAGE_CODECS=OFF)");
}

}  // namespace

Mat imread(const String& filename, int) {
  no_codecs("cannot read " + filename);
}

bool imwrite(const String& filename, InputArray, const std::vector<int>&) {
  no_codecs("cannot write " + filename);
}

bool imencode(const String& ext, InputArray, std::vector<uchar>&, const std::vector<int>&) {
  no_codecs("cannot encode '" + ext + "' images");
}

}  // namespace cv
