# NXT_SANITIZE: build every nxt target with compiler sanitizers (GCC or Clang).
#   -DNXT_SANITIZE=address,undefined   ASan + UBSan (CI's C++ suite, launch/test.sh)
#   -DNXT_SANITIZE=thread              TSan (the concurrency units, launch/tsan.sh)
# LibTorch, Open MPI, HDF5 and OpenMP stay uninstrumented: ASan and UBSan see nxt's own code and
# what it hands to them; TSan and LSan need the suppressions in src/common/sanitizer_defaults.cpp,
# each with why it is safe. -O1 keeps the reports' stacks readable and the build as fast as Release.
set(NXT_SANITIZE "" CACHE STRING "Sanitizers: address,undefined or thread (empty: none)")
if(NXT_SANITIZE)
  string(REPLACE "," ";" nxt_sanitizers "${NXT_SANITIZE}")
  foreach(sanitizer ${nxt_sanitizers})
    if(NOT sanitizer MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "NXT_SANITIZE: '${sanitizer}' is not one of address, undefined, thread")
    endif()
  endforeach()
  if("thread" IN_LIST nxt_sanitizers AND "address" IN_LIST nxt_sanitizers)
    message(FATAL_ERROR "NXT_SANITIZE: thread cannot be combined with address")
  endif()
  set(nxt_sanitize_flags -fsanitize=${NXT_SANITIZE} -fno-omit-frame-pointer -g1)
  if("undefined" IN_LIST nxt_sanitizers)
    # A UBSan finding fails the test instead of printing and going on. vptr is left out: LibTorch
    # is built without UBSan's type information, so every virtual call into it would be flagged.
    list(APPEND nxt_sanitize_flags -fno-sanitize-recover=all -fno-sanitize=vptr)
  endif()
  add_compile_options(${nxt_sanitize_flags} $<$<COMPILE_LANGUAGE:CXX>:-O1>)
  add_link_options(-fsanitize=${NXT_SANITIZE})
  add_compile_definitions(NXT_SANITIZED=1)
  # The runtimes' default options and suppressions (src/common/sanitizer_defaults.cpp) go into
  # every program and test binary, so that ctest, mpirun's ranks and gtest's test discovery all
  # run with them without an environment to carry.
  add_library(nxt_sanitizer_defaults OBJECT ${PROJECT_SOURCE_DIR}/src/common/sanitizer_defaults.cpp)
  link_libraries(nxt_sanitizer_defaults)
  message(STATUS "nxt: sanitizers ${NXT_SANITIZE} on every target")
endif()

