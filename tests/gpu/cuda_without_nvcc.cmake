# Included right after project() (tests/gpu/check_project.cmake, for tests/gpu/check.sh) on a
# machine without nvcc, with CUDAToolkit_ROOT at the folder tests/gpu/cuda_from_wheel.sh lays out
# from the CUDA wheel next to torch (its headers, its libraries under unversioned names, a
# version.txt).
#
# Why: torch's CMake config (Caffe2/public/cuda.cmake) finds CUDA through nvcc (FindCUDA, then
# enable_language(CUDA)) and stops without it ("Your installed Caffe2 version uses CUDA but I
# cannot find the CUDA libraries"). nxt compiles no CUDA code: its C++ needs the CUDA runtime's
# headers and library, and torch's wheel has both. CMake's FindCUDAToolkit finds a toolkit
# without nvcc by its version.txt; torch::cudart, the one target of cuda.cmake that torch's
# exported targets name, is defined here over CUDA::cudart, so cuda.cmake returns at its include
# guard (`if(TARGET torch::cudart) return()`). cmake/NxtCudaRuntime.cmake then points CUDA::cudart
# at the wheel's libcudart.so.N, as it does after a toolkit.
find_package(CUDAToolkit REQUIRED)
if(NOT TARGET torch::cudart)
  add_library(torch::cudart INTERFACE IMPORTED)
  set_property(TARGET torch::cudart PROPERTY INTERFACE_LINK_LIBRARIES CUDA::cudart)
endif()
message(STATUS "CUDA without nvcc: ${CUDAToolkit_VERSION} from ${CUDAToolkit_INCLUDE_DIRS} "
               "(tests/gpu/cuda_without_nvcc.cmake)")
