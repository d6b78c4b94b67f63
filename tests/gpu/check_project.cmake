# Included right after nxt's project() by tests/gpu/check.sh (-DCMAKE_PROJECT_INCLUDE=this file):
# what the GPU check's build needs beyond nxt's own CMake files, confined to it.
#  - NXT_CHECK_CUDA_FROM_WHEEL (set by check.sh when the machine has no nvcc): CUDA from torch's
#    own wheel, tests/gpu/cuda_without_nvcc.cmake.
#  - Without image codecs (NXT_WITH_IMAGE_CODECS=OFF), nxt_make_demo_images and nxt_tests still
#    call cv::imencode, cv::imread and cv::imwrite, so they do not link, and the check needs
#    nxt_tests (which depends on nxt_make_demo_images): both get those functions from
#    tests/gpu/no_imgcodecs.cpp, each throwing why it cannot work. They are added once every
#    directory has defined its targets (cmake_language(DEFER), CMake 3.19).
if(NXT_CHECK_CUDA_FROM_WHEEL)
  include(${CMAKE_CURRENT_LIST_DIR}/cuda_without_nvcc.cmake)
endif()

if(DEFINED NXT_WITH_IMAGE_CODECS AND NOT NXT_WITH_IMAGE_CODECS AND COMMAND cmake_language)
  set(NXT_CHECK_NO_IMGCODECS ${CMAKE_CURRENT_LIST_DIR}/no_imgcodecs.cpp)
  function(nxt_check_add_no_imgcodecs)
    foreach(target nxt_make_demo_images nxt_tests)
      if(TARGET ${target})
        target_sources(${target} PRIVATE ${NXT_CHECK_NO_IMGCODECS})
        message(STATUS "${target}: OpenCV's image codec functions from ${NXT_CHECK_NO_IMGCODECS}")
      endif()
    endforeach()
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nxt_check_add_no_imgcodecs)
endif()
