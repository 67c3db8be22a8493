// cuda-emu's CUDA: what the kernels of templates/cuda/ use of CUDA C++, as ordinary C++ that the
// in-process clang compiles for the host. A kernel rendered for cuda-emu is its CUDA source with
// this header included first; nothing in templates/cuda/ is copied or rewritten.
//
// Each CUDA thread runs on a fiber of its own (runtime/emu_scheduler.*); the built-in variables
// ask the emulator which thread is running, and everything where threads meet (__syncthreads,
// shuffles, votes, and in ptx_emu.hpp ldmatrix, mma.sync and cp.async) is a call into it (abi.h).
// Arithmetic runs natively: the host's IEEE fp32 is the GPU's, one operation at a time, as
// long as nothing is contracted into an FMA, which the __*_rn intrinsics below guarantee by being
// separate operations (clang fuses only within one expression).
#pragma once

#define QK_CUDA_EMU 1

#include <math.h>  // fabsf, fmaxf, fminf: CUDA's math functions, global as in C
#include <stdint.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "emu/abi.h"

// The declaration specifiers mean nothing on the host: every function is an ordinary one.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __restrict__ __restrict

// CUDA's built-in variables, for the running thread.
#define threadIdx (qk_emu_thread()->thread_idx)
#define blockIdx (qk_emu_thread()->block_idx)
#define blockDim (qk_emu_thread()->block_dim)
#define gridDim (qk_emu_thread()->grid_dim)

// CUDA's vector types (only the ones the kernels use), with CUDA's alignment.
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline uint2 make_uint2(unsigned x, unsigned y) {
  return {x, y};
}
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}

inline void __syncthreads() {
  qk_emu_sync_block();
}

// Global-memory atomics and fences. The blocks of a launch run concurrently on several OS
// threads (runtime/emu_launch.cpp), so these are the host's real atomics, sequentially
// consistent: __threadfence orders a thread's earlier writes before its later ones for every
// other block, as on the GPU (membar.gl); an atomic read-modify-write returns the old value.
inline void __threadfence() {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
inline int atomicAdd(int* address, int value) {
  return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}
/// fp32: a compare-and-swap loop, one correctly rounded addition per attempt.
inline float atomicAdd(float* address, float value) {
  float old, next;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  do {
    next = old + value;
  } while (
      !__atomic_compare_exchange(address, &old, &next, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  return old;
}
inline int atomicExch(int* address, int value) {
  return __atomic_exchange_n(address, value, __ATOMIC_SEQ_CST);
}
inline unsigned atomicExch(unsigned* address, unsigned value) {
  return __atomic_exchange_n(address, value, __ATOMIC_SEQ_CST);
}
/// ((old >= limit) ? 0 : old + 1), stored atomically; returns old.
inline unsigned atomicInc(unsigned* address, unsigned limit) {
  unsigned old = __atomic_load_n(address, __ATOMIC_RELAXED);
  unsigned next;
  do {
    next = old >= limit ? 0u : old + 1u;
  } while (
      !__atomic_compare_exchange_n(address, &old, next, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  return old;
}
inline int atomicCAS(int* address, int compare, int value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}

namespace qk::emu::detail {

/// A 4-byte value as the 32 bits a shuffle moves, and back.
template <class T>
unsigned to_bits(T v) {
  static_assert(sizeof(T) == 4 && std::is_trivially_copyable_v<T>, "shuffles move 32-bit values");
  unsigned bits;
  std::memcpy(&bits, &v, 4);
  return bits;
}
template <class T>
T from_bits(unsigned bits) {
  T v;
  std::memcpy(&v, &bits, 4);
  return v;
}

template <class T>
T shfl(unsigned mask, T v, int mode, int lane_arg, int width) {
  return from_bits<T>(qk_emu_shfl(mask, to_bits(v), mode, lane_arg, width));
}

}  // namespace qk::emu::detail

template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  return qk::emu::detail::shfl(mask, v, QK_EMU_SHFL_IDX, src_lane, width);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return qk::emu::detail::shfl(mask, v, QK_EMU_SHFL_UP, static_cast<int>(delta), width);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return qk::emu::detail::shfl(mask, v, QK_EMU_SHFL_DOWN, static_cast<int>(delta), width);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return qk::emu::detail::shfl(mask, v, QK_EMU_SHFL_XOR, lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return qk_emu_ballot(mask, predicate);
}
inline int __any_sync(unsigned mask, int predicate) {
  return qk_emu_ballot(mask, predicate) != 0;
}
inline int __all_sync(unsigned mask, int predicate) {
  return qk_emu_ballot(mask, predicate) == mask;
}

// The IEEE single-precision intrinsics: one correctly rounded operation each (round to nearest
// even, the host's default mode), never contracted with a neighbour.
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fdiv_rn(float a, float b) {
  return a / b;
}
inline float __fmaf_rn(float a, float b, float c) {
  return std::fma(a, b, c);
}
/// cvt.rni.s32.f32: round to nearest even; NaN gives 0 and out-of-range values saturate, as on
/// the GPU (the host's conversion would give INT_MIN for both).
inline int __float2int_rn(float x) {
  if (x != x) return 0;
  if (x >= 2147483647.0f) return 2147483647;
  if (x <= -2147483648.0f) return -2147483647 - 1;
  return static_cast<int>(std::nearbyint(x));
}
/// As the CUDA Math API defines it: byte i of the result is byte (selector >> 4i) & 7 of the
/// eight bytes of {y, x}, x's being bytes 0 to 3.
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned selector) {
  const unsigned long long bytes = (static_cast<unsigned long long>(y) << 32) | x;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned index = (selector >> (4 * i)) & 7u;
    r |= static_cast<unsigned>((bytes >> (8 * index)) & 0xffu) << (8 * i);
  }
  return r;
}
inline float __uint_as_float(unsigned bits) {
  return qk::emu::detail::from_bits<float>(bits);
}
inline unsigned __float_as_uint(float x) {
  return qk::emu::detail::to_bits(x);
}

namespace qk::emu {

/// Runs `kernel` as the calling CUDA thread with its launch's arguments: the body of a rendered
/// cuda-emu kernel's entry (codegen/render_cuda_emu.cpp). Args is deduced from the kernel.
template <class Args>
void run_thread(void (*kernel)(Args), const void* args) {
  kernel(*static_cast<const Args*>(args));
}

}  // namespace qk::emu
