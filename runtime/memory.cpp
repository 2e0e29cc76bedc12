#include "runtime/memory.hpp"

#include <cstdlib> // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kam::runtime {

void release_free_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

void tune_allocator() {
#if defined(__GLIBC__)
  // Setting either turns off glibc's dynamic thresholds, which would raise
  // the mmap threshold only after the first large free.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
}

} // namespace kam::runtime
