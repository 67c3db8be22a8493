// The configuration of a CPU GEMM kernel: one structural value type, passed as a template
// argument to the generic kernel (C++20 class-type non-type template parameter). codegen renders
// exactly one such value per kernel; nothing else varies between instances.
#pragma once

#include <stdint.h>

namespace qk::cpu {

enum class InputType : uint8_t { fp32, fp16, bf16 };
enum class OutputType : uint8_t { fp32, fp16, bf16, int8 };
/// `none`: the activations are not quantized (the weight-only families multiply them as given).
enum class Scaling : uint8_t { static_per_tensor, dynamic_per_token, dynamic_per_tensor, none };
enum class Act : uint8_t { none, relu, gelu, gelu_tanh, silu };
/// How the weight-only kernel's weights are stored (templates/cpu/weight_decode.hpp); the names
/// are qk's QuantType names, so that codegen renders them from the same table.
enum class WeightType : uint8_t { int8, int4, fp8_e4m3, fp8_e5m2, fp16, bf16, fp32 };
/// The instruction set a kernel is generated for (docs/cpu.md, "ISAs"): `avx512` is x86-64-v4
/// plus AVX-512 VNNI (32 zmm of 16 lanes), `avx2` is x86-64-v3 (16 ymm of 8 lanes, no VNNI).
enum class Isa : uint8_t { avx512, avx2 };

/// W8A8: int8 weights (per-channel scales; per-tensor is broadcast by the packing) x int8
/// activations quantized in the kernel, int32 accumulation with AVX-512 VNNI (vpdpbusd), or on
/// AVX2 with vpmaddubsw + vpmaddwd (templates/cpu/w8a8.hpp).
struct W8A8Config {
  Isa isa = Isa::avx512;              ///< the instruction set of the generated code
  InputType input = InputType::fp32;  ///< dtype of the activations the kernel receives
  Scaling scaling = Scaling::dynamic_per_token;
  bool bias = false;
  Act act = Act::none;
  OutputType output = OutputType::fp32;

  /// The int8 product on AMX tiles (tdpbusd, templates/cpu/amx.hpp) instead of vpdpbusd: mr is
  /// then a multiple of 16 (A tiles of 16 rows), nv the B tiles of 16 columns, kc a multiple of
  /// 64 (one tdpbusd step); isa is avx512, whose epilogue finishes the tile.
  bool amx = false;
  int mr = 6;     ///< rows of the register micro-tile (M)
  int nv = 4;     ///< 16-column vectors of the micro-tile (N = 16 * nv)
  int kc = 512;   ///< K per cache block (multiple of 4): the weight micro-panel kc x 16nv in L1
  int mc = 96;    ///< rows per cache block (multiple of mr): the activation block mc x kc in L2
  int nc = 1024;  ///< columns per cache block (multiple of 16 * nv)
};

/// W4A8: int4 weights (codes 0..15 with zero points, scales per group of K or per channel) x int8
/// activations quantized in the kernel. Each group's int32 sums are folded into fp32 accumulators
/// (docs/numerics.md §6.2), so K is not blocked: the register tile runs over all of it.
struct W4A8Config {
  Isa isa = Isa::avx512;  ///< the instruction set of the generated code
  InputType input = InputType::fp32;
  Scaling scaling = Scaling::dynamic_per_token;
  bool bias = false;
  Act act = Act::none;
  OutputType output = OutputType::fp32;

  int mr = 3;    ///< rows of the register tile
  int nv = 3;    ///< 16-column vectors of the register tile
  int mc = 96;   ///< rows per cache block (multiple of mr)
  int nc = 768;  ///< columns per cache block (multiple of 16 * nv)
};

/// W8A16: int8 weights (per-tensor, per-channel or per group of K; docs/numerics.md §6.3) x fp16
/// or bf16 activations, multiplied as given. Decode multiplies each weight's code by the
/// activation exactly in fp32 and scales each group's sum; taller blocks dequantize weights as the
/// contract says (one fp32 multiply, rounded to the activation type). Products are summed in fp32
/// over all of K, which is not blocked. The kernel is templates/cpu/weight_only.hpp.
struct W8A16Config {
  static constexpr WeightType weight = WeightType::int8;  ///< in memory: quant::pack_cpu_int8

  Isa isa = Isa::avx512;              ///< the instruction set of the generated code
  InputType input = InputType::bf16;  ///< fp16 or bf16: the layer's activation_quant
  Scaling scaling = Scaling::none;    ///< always none: the activations are not quantized
  bool bias = false;
  Act act = Act::none;
  OutputType output = OutputType::fp32;

  int mr = 8;    ///< rows of the register tile
  int nv = 2;    ///< 16-column vectors of the register tile
  int mc = 96;   ///< rows per cache block (multiple of mr)
  int nc = 768;  ///< columns per cache block (multiple of 16 * nv)
};

/// W4A16: int4 weights (codes 0..15 with zero points, per group of K or per channel) x fp16 or
/// bf16 activations; otherwise as W8A16, with the same kernel template. The weights stay 4-bit in
/// memory (quant::pack_cpu_int4): decode is bound by the bytes of weights it reads.
struct W4A16Config {
  static constexpr WeightType weight = WeightType::int4;  ///< in memory: quant::pack_cpu_int4

  Isa isa = Isa::avx512;
  InputType input = InputType::bf16;
  Scaling scaling = Scaling::none;
  bool bias = false;
  Act act = Act::none;
  OutputType output = OutputType::fp32;

  int mr = 8;
  int nv = 2;
  int mc = 96;
  int nc = 768;
};

/// WFP8A16: fp8 weights (E4M3 or E5M2, per-tensor or per-channel scales; docs/numerics.md §6.3)
/// x fp16 or bf16 activations; otherwise as W8A16, with the same kernel template. Each code is
/// decoded in registers to its exact value (weight_decode.hpp), then scaled and rounded as W8A16.
struct WFp8A16Config {
  Isa isa = Isa::avx512;
  WeightType weight = WeightType::fp8_e4m3;  ///< fp8_e4m3 or fp8_e5m2 (quant::pack_cpu_fp8)

  InputType input = InputType::bf16;
  Scaling scaling = Scaling::none;
  bool bias = false;
  Act act = Act::none;
  OutputType output = OutputType::fp32;

  int mr = 8;
  int nv = 2;
  int mc = 96;
  int nc = 768;
};

/// The float baselines fp16, bf16 and fp32 (docs/numerics.md §6.5): weights and activations both
/// in `weight`'s type, products summed in fp32. The weight-only kernel template with a decoder
/// that only widens the stored value (quant::pack_cpu_float).
struct FloatConfig {
  Isa isa = Isa::avx512;
  WeightType weight = WeightType::bf16;  ///< fp16, bf16 or fp32; input is the same type

  InputType input = InputType::bf16;
  Scaling scaling = Scaling::none;
  bool bias = false;
  Act act = Act::none;
  OutputType output = OutputType::fp32;

  int mr = 8;
  int nv = 2;
  int mc = 96;
  int nc = 768;
};

/// Registers the weight-only micro-tile needs: mr x nv fp32 accumulators; per weight vector its
/// packed bytes, its dequantized value, its scale and its zero point; a broadcast, the nibble
/// mask and a rounding constant. (The in-register tile of integer weights holds a second mr x nv
/// for its groups' sums instead of the scale and the rounding; at 1 x 64, decode's, nothing
/// spills.)
constexpr int weight_only_tile_registers(int mr, int nv) {
  return mr * nv + 4 * nv + 3;
}

/// Registers the AVX2 weight-only micro-tile needs (two ymm per 16-column vector): 2 mr nv fp32
/// accumulators; per ymm of weights its packed bytes and its dequantized value; a broadcast and
/// one scratch register. This is the FMA tile over buffered weights (every cache block of more
/// than mr rows) with room to spare; the in-register path (blocks of at most mr rows: M <= mr, or
/// the last rows of M) also holds, for integer weights, a second 2 mr nv for the groups' sums,
/// and for int4 with zero points each ymm's zero point: at 1 x 32 (decode's) nothing spills for
/// int8 and symmetric int4, while with zero points clang keeps the zero points and some packed
/// bytes in L1 (docs/cpu.md, "Tiles": measured in the generated code).
constexpr int avx2_weight_only_tile_registers(int mr, int nv) {
  return 2 * mr * nv + 4 * nv + 2;
}

/// Registers the W4A8 micro-tile needs: mr x nv int32 and mr x nv fp32 accumulators, the low and
/// high nibbles of nv weight vectors, 2 broadcasts and the nibble mask.
constexpr int w4a8_tile_registers(int mr, int nv) {
  return 2 * mr * nv + 2 * nv + 3;
}

/// Registers the AVX2 W4A8 inner loop needs (two ymm per 16-column vector): 2 mr nv int32
/// accumulators, mr int16 chains, one step's packed bytes and their two nibble halves, 2
/// broadcasts, the nibble mask and the int16 ones. The 2 mr nv fp32 sums are touched once per
/// group (at least 32 k) and may live in memory, so they are not counted: a 1 x 64 decode tile
/// (eight weight streams of 32 bytes per step) fits.
constexpr int avx2_w4a8_tile_registers(int mr, int nv) {
  return 2 * mr * nv + mr + 7;
}

/// Registers the micro-tile needs: mr x nv int32 accumulators, nv weight vectors, 1 broadcast.
constexpr int micro_tile_registers(int mr, int nv) {
  return mr * nv + nv + 1;
}

/// Registers the AVX2 W8A8 micro-tile needs (ymm, 8 lanes: two per 16-column vector): 2 mr nv
/// int32 accumulators; per ymm of weights its bytes and their absolute values; the broadcast,
/// the product and the int16 ones.
constexpr int avx2_micro_tile_registers(int mr, int nv) {
  return 2 * mr * nv + 4 * nv + 3;
}

}  // namespace qk::cpu
