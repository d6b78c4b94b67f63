# nxt_find_nccl(): finds NCCL's header and library, with no shim (no symlink farm).
#
# Where it looks, first match wins:
#   1. NCCL_ROOT (CMake variable or environment): ROOT/include/nccl.h, ROOT/lib{,64}/libnccl.so[.2]
#   2. the nvidia-nccl wheel next to the torch that find_package(Torch) found (a pip torch:
#      site-packages/nvidia/nccl, next to site-packages/torch, found from TORCH_INSTALL_PREFIX,
#      Torch_DIR and every CMAKE_PREFIX_PATH entry). The wheel ships only libnccl.so.2 (no
#      unversioned libnccl.so), which is accepted: linking a full path records the soname. It
#      comes before the toolkit so that nxt and torch load the same NCCL (one soname, one copy
#      in the process: the one torch was built with).
#   3. the CUDA toolkit's folders (CUDAToolkit_INCLUDE_DIRS / CUDAToolkit_LIBRARY_DIR), then the
#      system's (/usr/include, /usr/lib/<arch>: Debian's libnccl-dev).
# NCCL_INCLUDE_DIR and NCCL_LIBRARY given on the command line (-D) take precedence over all.
#
# Sets, in the caller's scope: NCCL_FOUND, NCCL_INCLUDE_DIR, NCCL_LIBRARY, NCCL_SOURCE (which
# of the above), NCCL_VERSION (from nccl.h) and NCCL_SEARCHED (the roots tried, for messages).
# Plain file tests instead of find_library: nothing stale is cached between configures with
# another torch.

function(_nxt_nccl_in_root root include_var library_var)
  set(${include_var} "" PARENT_SCOPE)
  set(${library_var} "" PARENT_SCOPE)
  set(include "")
  foreach(dir "${root}/include" "${root}")
    if(EXISTS "${dir}/nccl.h")
      set(include "${dir}")
      break()
    endif()
  endforeach()
  if(NOT include)
    return()
  endif()
  foreach(dir "${root}/lib" "${root}/lib64" "${root}/lib/${CMAKE_LIBRARY_ARCHITECTURE}"
              "${root}/targets/x86_64-linux/lib" "${root}")
    foreach(name libnccl.so libnccl.so.2)
      if(EXISTS "${dir}/${name}" AND NOT IS_DIRECTORY "${dir}/${name}")
        set(${include_var} "${include}" PARENT_SCOPE)
        set(${library_var} "${dir}/${name}" PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endforeach()
endfunction()

# Folders that may hold the nvidia-nccl wheel: <site-packages>/nvidia/{nccl,cu13,cu12} for each
# site-packages that holds torch's nvidia wheels (cmake/NxtTorchWheel.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/NxtTorchWheel.cmake)
function(_nxt_nccl_wheel_roots out_var)
  nxt_torch_site_packages(site_dirs)
  set(roots "")
  foreach(site ${site_dirs})
    foreach(sub nvidia/nccl nvidia/cu13 nvidia/cu12)
      if(IS_DIRECTORY "${site}/${sub}")
        list(APPEND roots "${site}/${sub}")
      endif()
    endforeach()
  endforeach()
  set(${out_var} "${roots}" PARENT_SCOPE)
endfunction()

function(nxt_find_nccl)
  set(found_include "")
  set(found_library "")
  set(source "")
  set(searched "")
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY AND EXISTS "${NCCL_INCLUDE_DIR}/nccl.h"
     AND EXISTS "${NCCL_LIBRARY}")
    set(found_include "${NCCL_INCLUDE_DIR}")
    set(found_library "${NCCL_LIBRARY}")
    set(source "NCCL_INCLUDE_DIR/NCCL_LIBRARY")
  endif()

  set(candidates "")  # pairs "source|root"
  foreach(root ${NCCL_ROOT} $ENV{NCCL_ROOT})
    list(APPEND candidates "NCCL_ROOT|${root}")
  endforeach()
  _nxt_nccl_wheel_roots(wheel_roots)
  foreach(root ${wheel_roots})
    list(APPEND candidates "nvidia-nccl wheel next to torch|${root}")
  endforeach()
  foreach(root ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR})
    list(APPEND candidates "CUDA toolkit|${root}")
  endforeach()
  foreach(dir ${CUDAToolkit_INCLUDE_DIRS})
    get_filename_component(root "${dir}" DIRECTORY)
    list(APPEND candidates "CUDA toolkit|${root}")
  endforeach()
  list(APPEND candidates "system|/usr" "system|/usr/local")

  foreach(candidate ${candidates})
    if(found_library)
      break()
    endif()
    string(REPLACE "|" ";" parts "${candidate}")
    list(GET parts 0 kind)
    list(GET parts 1 root)
    list(APPEND searched "${root} (${kind})")
    _nxt_nccl_in_root("${root}" include library)
    if(library AND include)
      set(found_include "${include}")
      set(found_library "${library}")
      set(source "${kind}")
    endif()
  endforeach()

  set(version "")
  if(found_include)
    file(STRINGS "${found_include}/nccl.h" defines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
    foreach(part MAJOR MINOR PATCH)
      string(REGEX MATCH "NCCL_${part} +([0-9]+)" unused "${defines}")
      list(APPEND version "${CMAKE_MATCH_1}")
    endforeach()
    string(REPLACE ";" "." version "${version}")
  endif()

  if(found_library)
    set(NCCL_FOUND TRUE PARENT_SCOPE)
  else()
    set(NCCL_FOUND FALSE PARENT_SCOPE)
  endif()
  set(NCCL_INCLUDE_DIR "${found_include}" PARENT_SCOPE)
  set(NCCL_LIBRARY "${found_library}" PARENT_SCOPE)
  set(NCCL_SOURCE "${source}" PARENT_SCOPE)
  set(NCCL_VERSION "${version}" PARENT_SCOPE)
  string(REPLACE ";" ", " searched "${searched}")
  set(NCCL_SEARCHED "${searched}" PARENT_SCOPE)
endfunction()
