/* arc4random and arc4random_buf (glibc 2.36) for a machine with an older glibc, from getrandom(2)
   (glibc 2.25). Debian 12's libevent, under the Open MPI that tests/gpu/pack_sysroot.sh carries,
   asks for them; the packer marks that need weak (tests/gpu/elf_versions.py) and
   tests/gpu/check.sh builds this file with the machine's compiler and preloads it there.
   Valid C and C++: the machine may have only a C++ compiler. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

void arc4random_buf(void* buffer, size_t size) {
  char* at = (char*)buffer;
  while (size > 0) {
    const ssize_t got = getrandom(at, size, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      abort(); /* as glibc's own: no entropy is not an error a caller can handle */
    }
    at += got;
    size -= (size_t)got;
  }
}

uint32_t arc4random(void) {
  uint32_t value;
  arc4random_buf(&value, sizeof value);
  return value;
}

#ifdef __cplusplus
}
#endif
