#pragma once

namespace kam::runtime {

/// Asks the allocator to return freed heap memory to the operating system
/// (glibc: malloc_trim(0) over every arena; elsewhere nothing). It walks the
/// heap under the allocator's locks: call it rarely, after large frees.
void release_free_memory();

/// Sets the allocator up for serving (glibc; elsewhere nothing): freed
/// memory stays with the process until release_free_memory() (which the
/// chassis calls after each wave of closed connections), and buffers up to
/// 1 MiB come from the heap, not from mmap. glibc's defaults give pages back
/// on an ordinary free() once a thread arena's free top passes 128 KiB
/// (madvise), and every page is faulted in again on reuse: with a chat
/// round's write buffers allocated and freed at a high rate that was 15-20%
/// of the server's time in page faults (docs/performance.md, session 6).
/// Call once, first thing in main(), before other threads start.
void tune_allocator();

} // namespace kam::runtime
