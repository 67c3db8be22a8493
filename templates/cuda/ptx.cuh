// The PTX instructions the CUDA kernels use, one inline-asm wrapper each, with the hardware
// reason for using it. sm_80 or newer. No CUDA headers: NVRTC compiles this with its built-ins.
//
// Under cuda-emu (QK_CUDA_EMU, set by templates/emu/cuda_emu.hpp) the same functions come from
// templates/emu/ptx_emu.hpp instead, which runs them on the CPU: the kernels call nothing else
// that is specific to the GPU besides CUDA's own built-ins, which the emulation header provides.
#pragma once

#if defined(QK_CUDA_EMU)
#include "emu/ptx_emu.hpp"
#else

namespace qk::cuda::ptx {

/// The block's dynamic shared memory (the launch's sharedMemBytes), 16-byte aligned.
__device__ __forceinline__ unsigned char* dynamic_smem() {
  extern __shared__ __align__(16) unsigned char qk_dynamic_smem[];
  return qk_dynamic_smem;
}

/// The 32-bit shared-state-space address of a generic pointer into shared memory (what
/// ldmatrix and cp.async take: a 32-bit operand saves registers over a 64-bit generic address).
__device__ __forceinline__ unsigned smem_addr(const void* p) {
  unsigned a;
  asm("{ .reg .u64 g; cvta.to.shared.u64 g, %1; cvt.u32.u64 %0, g; }" : "=r"(a) : "l"(p));
  return a;
}

/// Copies 16 bytes global -> shared without passing through registers (LDGSTS), bypassing L1
/// (.cg: each tile is read once per CTA). `src_bytes` 0 reads nothing and fills zeros: how a
/// tile's rows and columns past the matrix are predicated without reading past a buffer.
__device__ __forceinline__ void cp_async_16(unsigned dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
}

/// Closes the group of cp.async issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n");
}

/// Waits until at most N committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/// Four 8x8 b16 matrices from shared memory into the mma fragment layout: lane l gives the row
/// address of matrix l / 8 and receives 4 bytes of each matrix (row l / 4, bytes 4 (l % 4)..+3),
/// one instruction instead of 16 scalar loads per lane. For int8 an 8x8 b16 matrix is 8 rows of
/// 16 int8, exactly an m16n8k32 operand quarter.
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

/// D = A · B + D on the tensor cores (IMMA): A 16x32 s8 (row), B 32x8 s8 (col), D 16x8 s32.
/// Fragments (PTX ISA 9.0, §9.7.14.5.10 "Matrix Fragments for mma.m16n8k32"), g = lane / 4,
/// t = lane % 4, the lowest byte of a register holding the lowest k:
///   a[0] row g, k 4t..4t+3; a[1] row g+8, k 4t..; a[2] row g, k 16+4t..; a[3] row g+8, k 16+4t..
///   b[0] col g, k 4t..4t+3; b[1] col g, k 16+4t..
///   d[0], d[1] row g, cols 2t, 2t+1; d[2], d[3] row g+8, cols 2t, 2t+1.
__device__ __forceinline__ void mma_s8_16832(int (&d)[4], const unsigned (&a)[4],
                                             const unsigned (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// D = A · B + D on the tensor cores (HMMA), fp32 accumulation: A 16x16 fp16 (row), B 16x8 fp16
/// (col), D 16x8 f32. Fragments (PTX ISA 9.0, §9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with
/// floating point type"), g = lane / 4, t = lane % 4, the lower half of a register holds the
/// lower k (or column):
///   a[0] row g, k 2t..2t+1; a[1] row g+8, k 2t..; a[2] row g, k 8+2t..; a[3] row g+8, k 8+2t..
///   b[0] col g, k 2t..2t+1; b[1] col g, k 8+2t..8+2t+1
///   d[0], d[1] row g, cols 2t, 2t+1; d[2], d[3] row g+8, cols 2t, 2t+1.
/// In bytes these are the s8 m16n8k32 fragments' bytes, so the same ldmatrix.x4 maps load them.
__device__ __forceinline__ void mma_f16_16816(float (&d)[4], const unsigned (&a)[4],
                                              const unsigned (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// mma_f16_16816 with bf16 operands (same fragments).
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const unsigned (&a)[4],
                                               const unsigned (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// D = A · B + D on the fp8 tensor cores (sm_89, sm_90a), fp32 accumulation: A 16x32 e4m3 (row),
/// B 32x8 e4m3 (col), D 16x8 f32. Fragments (PTX ISA 9.0, §9.7.14.5.10 "Matrix Fragments for
/// mma.m16n8k32", .e4m3/.e5m2 share the .s8 layout): byte for byte those of mma_s8_16832, so
/// the same ldmatrix.x4 maps load them; d as for mma_f16_16816.
__device__ __forceinline__ void mma_e4m3_16832(float (&d)[4], const unsigned (&a)[4],
                                               const unsigned (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// mma_e4m3_16832 with A in e5m2 (activations with a wider range), B still e4m3.
__device__ __forceinline__ void mma_e5m2_e4m3_16832(float (&d)[4], const unsigned (&a)[4],
                                                    const unsigned (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// 16 bytes from global memory through the non-coherent path (LDG.E.128.CONSTANT): one
/// instruction per 8 halves, and A is read-only for the kernel's lifetime.
__device__ __forceinline__ uint4 ldg_128(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

/// 16 bytes to global memory cached in L2 only (st.global.cg): split-K's partial sums, which
/// another SM reads back (L1 is not coherent between SMs) and this one never does.
__device__ __forceinline__ void st_cg_128(void* p, uint4 v) {
  asm volatile("st.global.cg.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "r"(v.x), "r"(v.y),
               "r"(v.z), "r"(v.w)
               : "memory");
}

/// 16 bytes from global memory through L2 only (ld.global.cg): another SM's split-K partials,
/// which a stale L1 line of this SM must not answer.
__device__ __forceinline__ uint4 ld_cg_128(const void* p) {
  uint4 v;
  asm volatile("ld.global.cg.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p)
               : "memory");
  return v;
}

/// fp16 bits -> fp32 (exact).
__device__ __forceinline__ float f16_to_f32(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}

/// bf16 bits -> fp32 (exact: bf16 is the upper half of an fp32).
__device__ __forceinline__ float bf16_to_f32(unsigned short h) {
  return __uint_as_float(static_cast<unsigned>(h) << 16);
}

/// fp32 -> fp16 bits, round to nearest even (overflow to ±Inf, as IEEE; numerics §7.3).
__device__ __forceinline__ unsigned short f32_to_f16(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

/// fp32 -> bf16 bits, round to nearest even (sm_80+: one cvt instead of integer bit tricks).
__device__ __forceinline__ unsigned short f32_to_bf16(float f) {
  unsigned short h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

/// Two fp32 -> fp16x2 bits, each rounded to nearest even (one cvt for both; sm_80+): lo in the
/// lower half, the element of the lower k in an mma operand register.
__device__ __forceinline__ unsigned f32x2_to_f16x2(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

/// Two fp32 -> bf16x2 bits, each rounded to nearest even (sm_80+), lo in the lower half.
__device__ __forceinline__ unsigned f32x2_to_bf16x2(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

/// Two fp32 -> e4m3x2 (sm_89+): each rounded to nearest even and saturated to ±448 (.satfinite,
/// numerics §10), lo in the lower byte of the low 16 bits. NaN is the caller's case.
__device__ __forceinline__ unsigned f32x2_to_e4m3x2(float lo, float hi) {
  unsigned short r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
}

/// Two fp32 -> e5m2x2 (sm_89+): as f32x2_to_e4m3x2, saturated to ±57344.
__device__ __forceinline__ unsigned f32x2_to_e5m2x2(float lo, float hi) {
  unsigned short r;
  asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
}

}  // namespace qk::cuda::ptx

#endif  // QK_CUDA_EMU
