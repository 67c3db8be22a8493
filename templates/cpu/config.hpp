// The configuration of a CPU GEMM kernel: one structural value type, passed as a template
// argument to the generic kernel (C++20 class-type non-type template parameter). codegen renders
// exactly one such value per kernel; nothing else varies between instances.
#pragma once

#include <stdint.h>

namespace qk::cpu {

enum class InputType : uint8_t { fp32, fp16, bf16 };
enum class OutputType : uint8_t { fp32, fp16, bf16, int8 };
enum class Scaling : uint8_t { static_per_tensor, dynamic_per_token, dynamic_per_tensor };
enum class Act : uint8_t { none, relu, gelu, gelu_tanh, silu };

/// W8A8: int8 weights (per-channel scales; per-tensor is broadcast by the packing) x int8
/// activations quantized in the kernel, int32 accumulation with AVX-512 VNNI (vpdpbusd).
struct W8A8Config {
  InputType input = InputType::fp32;  ///< dtype of the activations the kernel receives
  Scaling scaling = Scaling::dynamic_per_token;
  bool bias = false;
  Act act = Act::none;
  OutputType output = OutputType::fp32;

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

/// Registers the W4A8 micro-tile needs: mr x nv int32 and mr x nv fp32 accumulators, the low and
/// high nibbles of nv weight vectors, 2 broadcasts and the nibble mask.
constexpr int w4a8_tile_registers(int mr, int nv) {
  return 2 * mr * nv + 2 * nv + 3;
}

/// Registers the micro-tile needs: mr x nv int32 accumulators, nv weight vectors, 1 broadcast.
constexpr int micro_tile_registers(int mr, int nv) {
  return mr * nv + nv + 1;
}

}  // namespace qk::cpu
