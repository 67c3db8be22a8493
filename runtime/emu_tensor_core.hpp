// cuda-emu's warp-wide matrix instructions as pure functions of the 32 lanes' operands, written
// from the PTX ISA's fragment tables (sections "Warp-level matrix load instruction: ldmatrix" and
// "Matrix Fragments for mma.m16n8k32"). The scheduler gathers the lanes and calls these.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "qk/error.hpp"

namespace qk::runtime::emu {

inline constexpr int kWarpSize = 32;

template <class T>
using Lanes = std::array<T, kWarpSize>;
using Words2 = std::array<std::uint32_t, 2>;
using Words4 = std::array<std::uint32_t, 4>;
using Ints4 = std::array<std::int32_t, 4>;
using Floats4 = std::array<float, 4>;

/// The element types of the floating-point mma shapes.
enum class MmaFloat : std::uint8_t { f16, bf16, e4m3, e5m2 };

/// ldmatrix.sync.aligned.m8n8.x{count}{.trans}.shared.b16. Lanes 8j … 8j+7 give the addresses of
/// rows 0 … 7 of matrix j (a row: 8 b16 elements, 16 bytes); lanes past 8·count give none.
/// Register j of lane l holds elements (row l/4, columns 2(l%4), 2(l%4)+1) of matrix j, the lower
/// column in the low half; with .trans, elements (rows 2(l%4), 2(l%4)+1, column l/4).
/// Errors (Errc::invalid_argument, naming the lane and address): count not 1, 2 or 4; a row
/// address not 16-byte aligned or whose 16 bytes leave `shared`.
Expected<void> ldmatrix(std::span<const std::uint8_t> shared, const Lanes<std::uint32_t>& addresses,
                        int count, bool transpose, Lanes<Words4>& registers);

/// mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32: D = A · B + C, A 16x32, B 32x8, C/D 16x8,
/// with g = l / 4 and t = l % 4 for lane l (bytes little-endian in each register):
///   a[0]: A row g,   k 4t … 4t+3      a[1]: A row g+8, k 4t … 4t+3
///   a[2]: A row g,   k 16+4t … 16+4t+3 a[3]: A row g+8, k 16+4t …
///   b[0]: B k 4t … 4t+3, column g     b[1]: B k 16+4t …, column g
///   c/d[0], [1]: row g, columns 2t, 2t+1;  c/d[2], [3]: row g+8, columns 2t, 2t+1
/// The int32 sums wrap on overflow (no .satfinite), as the hardware's.
void mma_m16n8k32_s8(const Lanes<Words4>& a, const Lanes<Words2>& b, const Lanes<Ints4>& c,
                     Lanes<Ints4>& d);

/// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32: D = A · B + C, A 16x16 and B
/// 16x8 of `type` (two elements to a register, the lower k in the low half), C/D 16x8 fp32:
///   a[0]: A row g, k 2t, 2t+1     a[1]: row g+8, k 2t, 2t+1
///   a[2]: A row g, k 2t+8, 2t+9   a[3]: row g+8, k 2t+8, 2t+9
///   b[0]: B k 2t, 2t+1, column g  b[1]: B k 2t+8, 2t+9, column g
///   c/d as for m16n8k32.
/// Each result is C plus the exact products, summed in double and rounded once to fp32. The
/// hardware accumulates in its own order and precision, so float kernels agree with the GPU within
/// the contract's tolerance, not bit for bit. @pre type is f16 or bf16
void mma_m16n8k16_float(MmaFloat type, const Lanes<Words4>& a, const Lanes<Words2>& b,
                        const Lanes<Floats4>& c, Lanes<Floats4>& d);

/// mma.sync.aligned.m16n8k32.row.col.f32.{e4m3,e5m2}.{e4m3,e5m2}.f32 (sm_89+): the fragments of
/// the s8 shape above with fp8 codes for bytes, fp32 C/D, summed as mma_m16n8k16_float.
/// @pre a_type and b_type are e4m3 or e5m2
void mma_m16n8k32_fp8(MmaFloat a_type, MmaFloat b_type, const Lanes<Words4>& a,
                      const Lanes<Words2>& b, const Lanes<Floats4>& c, Lanes<Floats4>& d);

}  // namespace qk::runtime::emu
