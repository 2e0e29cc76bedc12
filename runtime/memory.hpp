#pragma once

namespace kam::runtime {

/// Asks the allocator to return freed heap memory to the operating system
/// (glibc: malloc_trim(0) over every arena; elsewhere nothing). It walks the
/// heap under the allocator's locks: call it rarely, after large frees.
void release_free_memory();

} // namespace kam::runtime
