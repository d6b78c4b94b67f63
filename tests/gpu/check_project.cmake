# Included right after nxt's project() by tests/gpu/check.sh (-DCMAKE_PROJECT_INCLUDE=this file):
# what the GPU check's build needs beyond nxt's own CMake files, confined to it.
#  - NXT_CHECK_CUDA_FROM_WHEEL (set by check.sh when the machine has no nvcc): CUDA from torch's
#    own wheel, tests/gpu/cuda_without_nvcc.cmake.
#  - Without image codecs (NXT_WITH_IMAGE_CODECS=OFF), nxt_make_demo_images still calls
#    cv::imencode, so its link fails, and nxt_tests depends on it: the program gets a cv::imencode
#    that says why it cannot encode (tests/gpu/no_imencode.cpp), added once every directory has
#    defined its targets (cmake_language(DEFER), CMake 3.19).
if(NXT_CHECK_CUDA_FROM_WHEEL)
  include(${CMAKE_CURRENT_LIST_DIR}/cuda_without_nvcc.cmake)
endif()

if(DEFINED NXT_WITH_IMAGE_CODECS AND NOT NXT_WITH_IMAGE_CODECS AND COMMAND cmake_language)
  set(NXT_CHECK_NO_IMENCODE ${CMAKE_CURRENT_LIST_DIR}/no_imencode.cpp)
  function(nxt_check_add_no_imencode)
    if(TARGET nxt_make_demo_images)
      target_sources(nxt_make_demo_images PRIVATE ${NXT_CHECK_NO_IMENCODE})
      message(STATUS "nxt_make_demo_images: cv::imencode from ${NXT_CHECK_NO_IMENCODE}")
    endif()
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nxt_check_add_no_imencode)
endif()
