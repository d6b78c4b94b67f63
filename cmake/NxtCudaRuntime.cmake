# nxt_use_torch_cuda_runtime(): with a pip torch (CUDA build), link the CUDA runtime and NVRTC
# that torch itself loads (its nvidia-* wheels), not the toolkit's.
#
# Why: torch's CMake config (Caffe2/public/cuda.cmake) finds the CUDA toolkit for headers and
# nvcc, and then links CUDA::cudart and nvrtc from the toolkit's folders. libtorch_cuda.so,
# loaded from the wheel, finds its runtime through its own RPATH (site-packages/nvidia/cu13/lib).
# A program that links the toolkit's copy gets the toolkit's folder in its RUNPATH, first: the
# process then loads whichever libcudart.so.13 comes first, or, when the toolkit is another
# major version (CUDA 12 under /usr/local/cuda, torch built with 13), two CUDA runtimes. Pointing
# the imported targets at the wheel's files makes the programs load exactly torch's copies: one
# runtime, one NVRTC, one NCCL (cmake/NxtNccl.cmake prefers the nvidia-nccl wheel the same way).
# The toolkit still provides the headers (the runtime API is compatible within a major version).
#
# Wheel layouts: CUDA 13 wheels put everything in site-packages/nvidia/cu13/lib; CUDA 12 wheels
# use one folder per library (nvidia/cuda_runtime/lib, nvidia/cuda_nvrtc/lib).
#
# Sets NXT_CUDA_RUNTIME_SOURCE (for the configure summary) in the caller's scope.
include(${CMAKE_CURRENT_LIST_DIR}/NxtTorchWheel.cmake)

# _nxt_wheel_library(out_var GLOB...): the first file matching one of the globs (relative to
# site-packages/nvidia) in torch's wheels, or "".
function(_nxt_wheel_library out_var)
  set(${out_var} "" PARENT_SCOPE)
  nxt_torch_site_packages(site_dirs)
  foreach(site ${site_dirs})
    list(TRANSFORM ARGN PREPEND "${site}/nvidia/" OUTPUT_VARIABLE globs)
    file(GLOB candidates ${globs})
    list(FILTER candidates EXCLUDE REGEX "(builtins|static)")
    if(candidates)
      list(SORT candidates)
      list(GET candidates 0 first)
      set(${out_var} "${first}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()

function(nxt_use_torch_cuda_runtime)
  set(NXT_CUDA_RUNTIME_SOURCE "(none: CPU LibTorch)" PARENT_SCOPE)
  if(NOT TARGET CUDA::cudart)
    return()
  endif()
  _nxt_wheel_library(cudart "cu[0-9]*/lib/libcudart.so.[0-9]*" "cuda_runtime/lib/libcudart.so.[0-9]*")
  if(NOT cudart)
    get_target_property(location CUDA::cudart IMPORTED_LOCATION)
    set(NXT_CUDA_RUNTIME_SOURCE "${location} (CUDA toolkit; no nvidia wheel next to torch)" PARENT_SCOPE)
    return()
  endif()
  get_filename_component(wheel_lib_dir "${cudart}" DIRECTORY)
  set_target_properties(CUDA::cudart PROPERTIES IMPORTED_LOCATION "${cudart}"
                        INTERFACE_LINK_DIRECTORIES "")
  set(source "cudart ${cudart}")
  _nxt_wheel_library(nvrtc "cu[0-9]*/lib/libnvrtc.so.[0-9]*" "cuda_nvrtc/lib/libnvrtc.so.[0-9]*")
  if(nvrtc)
    if(TARGET CUDA::nvrtc)
      set_target_properties(CUDA::nvrtc PROPERTIES IMPORTED_LOCATION "${nvrtc}"
                            INTERFACE_LINK_DIRECTORIES "")
    endif()
    # TorchConfig.cmake lists NVRTC by path (CUDA_NVRTC_LIB), not by target.
    if(CUDA_NVRTC_LIB)
      set(torch_libraries ${TORCH_LIBRARIES})
      list(TRANSFORM torch_libraries REPLACE "^${CUDA_NVRTC_LIB}$" "${nvrtc}")
      set(TORCH_LIBRARIES "${torch_libraries}" PARENT_SCOPE)
    endif()
    string(APPEND source ", nvrtc ${nvrtc}")
  endif()
  # cuDNN is torch's alone (nxt calls no cuDNN function); reported so the summary names it.
  _nxt_wheel_library(cudnn "cudnn/lib/libcudnn.so.[0-9]*")
  if(cudnn)
    string(APPEND source "; cuDNN ${cudnn}")
  endif()
  set(NXT_CUDA_RUNTIME_SOURCE "${source} (torch's nvidia wheels)" PARENT_SCOPE)
endfunction()
