// cuda-emu's implementations of the PTX wrappers of templates/cuda/ptx.cuh: the same functions,
// with the same signatures and meaning, run by the emulator. ptx.cuh includes this file in place
// of its inline assembly when QK_CUDA_EMU is defined (by cuda_emu.hpp).
//
// Shared-space addresses are offsets into the block's dynamic shared memory, as on the GPU
// (where dynamic shared memory starts at the window's base when there is no static shared
// memory, as in qk's kernels).
#pragma once

#include <cstring>

#include "emu/abi.h"
#include "emu/float_convert.hpp"

namespace qk::cuda::ptx {

inline unsigned char* dynamic_smem() {
  return qk_emu_thread()->shared;
}

inline unsigned smem_addr(const void* p) {
  const QkEmuThread* t = qk_emu_thread();
  const unsigned char* byte = static_cast<const unsigned char*>(p);
  if (byte < t->shared || byte > t->shared + t->shared_bytes)
    qk_emu_fail("cvta.to.shared of an address outside the block's shared memory");
  return static_cast<unsigned>(byte - t->shared);
}

inline void cp_async_16(unsigned dst, const void* src, int src_bytes) {
  qk_emu_cp_async(dst, src, 16, src_bytes);
}

inline void cp_async_commit() {
  qk_emu_cp_async_commit();
}

template <int N>
inline void cp_async_wait() {
  qk_emu_cp_async_wait(N);
}

inline void ldmatrix_x4(unsigned (&r)[4], unsigned addr) {
  qk_emu_ldmatrix(addr, 4, 0, r);
}

inline void mma_s8_16832(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  qk_emu_mma(QK_EMU_MMA_M16N8K32_S8_S32, a, b, d, d);
}

inline void mma_f16_16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  qk_emu_mma(QK_EMU_MMA_M16N8K16_F16_F32, a, b, d, d);
}

inline void mma_bf16_16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  qk_emu_mma(QK_EMU_MMA_M16N8K16_BF16_F32, a, b, d, d);
}

inline void mma_e4m3_16832(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  qk_emu_mma(QK_EMU_MMA_M16N8K32_E4M3_E4M3_F32, a, b, d, d);
}

inline void mma_e5m2_e4m3_16832(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  qk_emu_mma(QK_EMU_MMA_M16N8K32_E5M2_E4M3_F32, a, b, d, d);
}

inline uint4 ldg_128(const void* p) {
  uint4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Global memory is coherent under cuda-emu: the cache hints change nothing.
inline void st_cg_128(void* p, uint4 v) {
  std::memcpy(p, &v, sizeof v);
}
inline uint4 ld_cg_128(const void* p) {
  uint4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float f16_to_f32(unsigned short h) {
  return qk::emu::f16_to_f32(h);
}
inline float bf16_to_f32(unsigned short h) {
  return qk::emu::bf16_to_f32(h);
}
inline unsigned short f32_to_f16(float f) {
  return qk::emu::f32_to_f16(f);
}
inline unsigned short f32_to_bf16(float f) {
  return qk::emu::f32_to_bf16(f);
}

inline unsigned f32x2_to_f16x2(float lo, float hi) {
  return qk::emu::f32_to_f16(lo) | static_cast<unsigned>(qk::emu::f32_to_f16(hi)) << 16;
}
inline unsigned f32x2_to_bf16x2(float lo, float hi) {
  return qk::emu::f32_to_bf16(lo) | static_cast<unsigned>(qk::emu::f32_to_bf16(hi)) << 16;
}
inline unsigned f32x2_to_e4m3x2(float lo, float hi) {
  return qk::emu::f32_to_fp8(lo, 4) | static_cast<unsigned>(qk::emu::f32_to_fp8(hi, 4)) << 8;
}
inline unsigned f32x2_to_e5m2x2(float lo, float hi) {
  return qk::emu::f32_to_fp8(lo, 5) | static_cast<unsigned>(qk::emu::f32_to_fp8(hi, 5)) << 8;
}

}  // namespace qk::cuda::ptx
