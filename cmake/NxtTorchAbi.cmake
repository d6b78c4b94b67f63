# nxt_check_torch_abi(): stops the configure step when LibTorch's C++ ABI differs from the
# system libraries' (yaml-cpp and OpenCV, whose functions take std::string).
#
# libstdc++ has two std::string layouts, chosen by _GLIBCXX_USE_CXX11_ABI. Every library whose
# interface passes std::string must agree, or the link fails with undefined references to
# `std::__cxx11::basic_string` (or, worse, links and corrupts strings at run time). Debian's and
# most distributions' libraries use the new ABI (1); pip wheels of torch < 2.7 and the
# "pre-cxx11" LibTorch zips use the old one (0).
#
# Torch's ABI: read from TORCH_CXX_FLAGS (TorchConfig.cmake puts -D_GLIBCXX_USE_CXX11_ABI=N
# there), or, when absent, probed by linking a call to c10 that takes a std::string with each
# ABI in turn. -DNXT_TORCH_CXX11_ABI=0|1 states it and skips the probe.
# The system's: probed by linking yaml-cpp (YAML::Load(std::string)) and OpenCV core
# (cv::error(int, std::string, ...)) with torch's ABI. A failure that the other ABI fixes is a
# mismatch; the message says what to use instead.
#
# Sets NXT_TORCH_CXX11_ABI_VALUE (0, 1 or "unknown") in the caller's scope.

set(NXT_TORCH_CXX11_ABI "" CACHE STRING
    "LibTorch's _GLIBCXX_USE_CXX11_ABI (0 or 1); empty: from TORCH_CXX_FLAGS or a probe")

function(_nxt_abi_probe result_var abi name source)
  # Remaining arguments: the libraries to link (targets or paths); includes via INCLUDE_DIRS_<name>.
  set(dir "${CMAKE_BINARY_DIR}/CMakeFiles/nxt_abi_probe/${name}_${abi}")
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/probe.cpp" "${source}")
  try_compile(_nxt_try_ok "${dir}/build" "${dir}/probe.cpp"
    CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${NXT_ABI_PROBE_INCLUDES}"
    COMPILE_DEFINITIONS -D_GLIBCXX_USE_CXX11_ABI=${abi}
    LINK_LIBRARIES ${ARGN}
    CXX_STANDARD 17
    OUTPUT_VARIABLE output)
  if(NOT _nxt_try_ok)
    file(WRITE "${dir}/output.txt" "${output}")
  endif()
  set(${result_var} ${_nxt_try_ok} PARENT_SCOPE)
endfunction()

function(nxt_check_torch_abi)
  # --- torch -------------------------------------------------------------------------------
  set(abi "")
  set(how "")
  if(NXT_TORCH_CXX11_ABI MATCHES "^[01]$")
    set(abi ${NXT_TORCH_CXX11_ABI})
    set(how "NXT_TORCH_CXX11_ABI")
  elseif(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
    set(abi ${CMAKE_MATCH_1})
    set(how "TORCH_CXX_FLAGS")
  else()
    set(key "${Torch_DIR}|${TORCH_LIBRARIES}")
    if(DEFINED CACHE{NXT_TORCH_ABI_PROBED} AND NXT_TORCH_ABI_PROBED_KEY STREQUAL key)
      set(abi ${NXT_TORCH_ABI_PROBED})
    else()
      set(NXT_ABI_PROBE_INCLUDES "${TORCH_INCLUDE_DIRS}")
      # c10's library file alone: TORCH_LIBRARIES holds imported targets (torch_cpu_library ->
      # protobuf::libprotobuf in torch 2.x) that a try_compile project does not define.
      set(probe_libraries ${TORCH_LIBRARIES})
      if(c10_LIBRARY)  # TorchConfig.cmake's find_library result
        set(probe_libraries ${c10_LIBRARY})
      endif()
      foreach(candidate 1 0)
        _nxt_abi_probe(_nxt_abi_ok ${candidate} torch
          "#include <string>\n#include <c10/core/Device.h>\nint main() { c10::Device d(std::string(\"cpu\")); return d.is_cpu() ? 0 : 1; }\n"
          ${probe_libraries})
        if(_nxt_abi_ok)
          set(abi ${candidate})
          break()
        endif()
      endforeach()
      if(abi STREQUAL "")
        set(abi unknown)
      endif()
      set(NXT_TORCH_ABI_PROBED ${abi} CACHE INTERNAL "")
      set(NXT_TORCH_ABI_PROBED_KEY "${key}" CACHE INTERNAL "")
    endif()
    set(how "probe")
  endif()
  set(NXT_TORCH_CXX11_ABI_VALUE ${abi} PARENT_SCOPE)
  if(abi STREQUAL "unknown")
    message(WARNING "nxt: could not tell LibTorch's _GLIBCXX_USE_CXX11_ABI (TORCH_CXX_FLAGS "
      "has none and the link probe failed with both values, see "
      "${CMAKE_BINARY_DIR}/CMakeFiles/nxt_abi_probe/). Set -DNXT_TORCH_CXX11_ABI=0|1.")
    return()
  endif()
  message(STATUS "nxt: LibTorch uses _GLIBCXX_USE_CXX11_ABI=${abi} (from ${how})")

  # --- the system libraries that take std::string -----------------------------------------
  set(key "${abi}|${yaml-cpp_DIR}|${OpenCV_LIBS}")
  if(NXT_SYSTEM_ABI_CHECKED_KEY STREQUAL key)
    return()  # already checked with these libraries (a failure would have stopped configure)
  endif()
  if(abi STREQUAL "1")
    set(other 0)
  else()
    set(other 1)
  endif()
  set(mismatched "")
  set(yaml_source "#include <string>\n#include <yaml-cpp/yaml.h>\nint main() { return YAML::Load(std::string(\"a: 1\"))[\"a\"].as<int>() == 1 ? 0 : 1; }\n")
  set(NXT_ABI_PROBE_INCLUDES "")
  _nxt_abi_probe(_nxt_abi_ok ${abi} yaml-cpp "${yaml_source}" yaml-cpp)
  if(NOT _nxt_abi_ok)
    _nxt_abi_probe(_nxt_abi_ok_other ${other} yaml-cpp "${yaml_source}" yaml-cpp)
    if(_nxt_abi_ok_other)
      list(APPEND mismatched "yaml-cpp (${yaml-cpp_DIR})")
    endif()
  endif()
  set(cv_source "#include <string>\n#include <opencv2/core.hpp>\nint main(int argc, char**) { if (argc > 5) cv::error(cv::Error::StsError, std::string(\"x\"), \"f\", \"f.cpp\", 1); return 0; }\n")
  set(NXT_ABI_PROBE_INCLUDES "${OpenCV_INCLUDE_DIRS}")
  _nxt_abi_probe(_nxt_abi_ok ${abi} opencv "${cv_source}" ${OpenCV_LIBS})
  if(NOT _nxt_abi_ok)
    _nxt_abi_probe(_nxt_abi_ok_other ${other} opencv "${cv_source}" ${OpenCV_LIBS})
    if(_nxt_abi_ok_other)
      list(APPEND mismatched "OpenCV (${OpenCV_VERSION})")
    endif()
  endif()
  if(mismatched)
    string(REPLACE ";" " and " mismatched "${mismatched}")
    message(FATAL_ERROR
      "nxt: C++ ABI mismatch. LibTorch (${Torch_DIR}, ${Torch_VERSION}) is built with "
      "_GLIBCXX_USE_CXX11_ABI=${abi} (from ${how}), but ${mismatched} on this system use "
      "_GLIBCXX_USE_CXX11_ABI=${other}: std::string cannot cross between them, and the link "
      "would fail (undefined references to std::__cxx11::basic_string). Use instead one of:\n"
      "  - PyTorch >= 2.7, whose pip wheels use the C++11 ABI (=1):\n"
      "      pip install 'torch>=2.7'; cmake -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') ...\n"
      "  - the cxx11-ABI LibTorch zip (libtorch-cxx11-abi-shared-with-deps-<version>.zip from "
      "pytorch.org), unzipped: cmake -DCMAKE_PREFIX_PATH=/path/to/libtorch ...\n"
      "  - Debian's own LibTorch (libtorch-dev), which uses the system's ABI.\n"
      "  - yaml-cpp and OpenCV built from source with -D_GLIBCXX_USE_CXX11_ABI=${abi} and named by "
      "CMAKE_PREFIX_PATH (yaml-cpp_DIR, OpenCV_DIR).\n"
      "The probes' output is in ${CMAKE_BINARY_DIR}/CMakeFiles/nxt_abi_probe/.")
  endif()
  set(NXT_SYSTEM_ABI_CHECKED_KEY "${key}" CACHE INTERNAL "")
endfunction()
