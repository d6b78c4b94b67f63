# nxt_torch_site_packages(out_var): the Python site-packages folders that hold a pip torch's
# nvidia-* wheels (a folder with an `nvidia/` sub-folder), found by walking up from torch's
# install prefix, its CMake folder and every CMAKE_PREFIX_PATH entry
# (site-packages/torch/share/cmake/Torch -> ... -> site-packages). Empty for a LibTorch that
# did not come from pip (Debian's, an unzipped LibTorch). Used by cmake/NxtNccl.cmake and
# cmake/NxtCudaRuntime.cmake, so that nxt links the NCCL and CUDA runtime that torch loads.
function(nxt_torch_site_packages out_var)
  set(starts ${TORCH_INSTALL_PREFIX} ${Torch_DIR} ${CMAKE_PREFIX_PATH} $ENV{CMAKE_PREFIX_PATH})
  set(found "")
  foreach(start ${starts})
    get_filename_component(dir "${start}" ABSOLUTE)
    foreach(level RANGE 5)
      if(IS_DIRECTORY "${dir}/nvidia")
        list(APPEND found "${dir}")
      endif()
      get_filename_component(dir "${dir}" DIRECTORY)
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES found)
  set(${out_var} "${found}" PARENT_SCOPE)
endfunction()
