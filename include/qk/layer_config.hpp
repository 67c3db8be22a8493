// What a layer is: shape, number formats, scaling and epilogue. A LayerConfig is the input of
// qk::jit::compile and the unit of plan.json (docs/plan.md lists every field with its rules).
//
// A layer computes  Y[m, n] = epilogue( sum_k A[m, k] * W[n, k] )  with A the activations
// ([M, K] row-major) and W the weights ([N, K], K contiguous, like a PyTorch Linear).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qk/enum_names.hpp"
#include "qk/error.hpp"

namespace qk {

/// Number formats of weights, activations and outputs.
enum class QuantType : std::uint8_t { fp32, fp16, bf16, int8, int4, fp8_e4m3, fp8_e5m2 };

/// How many weight scales there are along K and N.
enum class WeightGranularity : std::uint8_t {
  per_tensor,   ///< one scale for the whole matrix
  per_channel,  ///< one scale per output channel n (the outer dimension, never along K)
  per_group,    ///< one scale per output channel and per group of `block_size` consecutive k
};

/// Where the activation scale comes from. Scales live on the outer dimension M only.
enum class ActivationScaling : std::uint8_t {
  none,                ///< activations are not quantized (float families)
  static_per_tensor,   ///< one scale fixed by calibration, passed at run time
  dynamic_per_token,   ///< one scale per row m, from that row's absmax, computed in the kernel
  dynamic_per_tensor,  ///< one scale for the whole [M, K] input, computed in the kernel
};

/// How calibration picks a static activation scale from observed values.
enum class ScaleMethod : std::uint8_t { max, percentile, mse, entropy };

/// The epilogue's elementwise function, applied after dequantization and bias.
enum class Activation : std::uint8_t {
  none,
  relu,
  gelu,       ///< x * Phi(x), with the exact erf
  gelu_tanh,  ///< the tanh approximation of GELU
  silu,       ///< x * sigmoid(x)
};

/// The kernel family a (weight_quant, activation_quant) pair maps to: which GEMM computes it.
enum class GemmFamily : std::uint8_t {
  w8a8,     ///< int8 x int8 -> int32, dequantized in the epilogue
  w4a8,     ///< int4 (per-group) x int8 -> int32 per group, scaled per group in fp32
  w8a16,    ///< int8 weights dequantized to fp16/bf16, float GEMM
  w4a16,    ///< int4 weights dequantized to fp16/bf16, float GEMM
  wfp8a16,  ///< fp8 weights decoded to fp16/bf16, float GEMM
  fp8,      ///< fp8 x fp8 -> fp32
  fp16,     ///< fp16 x fp16 -> fp32 accumulation (baseline)
  bf16,     ///< bf16 x bf16 -> fp32 accumulation (baseline)
  fp32,     ///< fp32 x fp32 (baseline)
};

template <>
struct EnumNames<QuantType> {
  static constexpr std::array<std::pair<QuantType, std::string_view>, 7> table{{
      {QuantType::fp32, "fp32"},
      {QuantType::fp16, "fp16"},
      {QuantType::bf16, "bf16"},
      {QuantType::int8, "int8"},
      {QuantType::int4, "int4"},
      {QuantType::fp8_e4m3, "fp8_e4m3"},
      {QuantType::fp8_e5m2, "fp8_e5m2"},
  }};
};
template <>
struct EnumNames<WeightGranularity> {
  static constexpr std::array<std::pair<WeightGranularity, std::string_view>, 3> table{{
      {WeightGranularity::per_tensor, "per_tensor"},
      {WeightGranularity::per_channel, "per_channel"},
      {WeightGranularity::per_group, "per_group"},
  }};
};
template <>
struct EnumNames<ActivationScaling> {
  static constexpr std::array<std::pair<ActivationScaling, std::string_view>, 4> table{{
      {ActivationScaling::none, "none"},
      {ActivationScaling::static_per_tensor, "static_per_tensor"},
      {ActivationScaling::dynamic_per_token, "dynamic_per_token"},
      {ActivationScaling::dynamic_per_tensor, "dynamic_per_tensor"},
  }};
};
template <>
struct EnumNames<ScaleMethod> {
  static constexpr std::array<std::pair<ScaleMethod, std::string_view>, 4> table{{
      {ScaleMethod::max, "max"},
      {ScaleMethod::percentile, "percentile"},
      {ScaleMethod::mse, "mse"},
      {ScaleMethod::entropy, "entropy"},
  }};
};
template <>
struct EnumNames<Activation> {
  static constexpr std::array<std::pair<Activation, std::string_view>, 5> table{{
      {Activation::none, "none"},
      {Activation::relu, "relu"},
      {Activation::gelu, "gelu"},
      {Activation::gelu_tanh, "gelu_tanh"},
      {Activation::silu, "silu"},
  }};
};
template <>
struct EnumNames<GemmFamily> {
  static constexpr std::array<std::pair<GemmFamily, std::string_view>, 9> table{{
      {GemmFamily::w8a8, "w8a8"},
      {GemmFamily::w4a8, "w4a8"},
      {GemmFamily::w8a16, "w8a16"},
      {GemmFamily::w4a16, "w4a16"},
      {GemmFamily::wfp8a16, "wfp8a16"},
      {GemmFamily::fp8, "fp8"},
      {GemmFamily::fp16, "fp16"},
      {GemmFamily::bf16, "bf16"},
      {GemmFamily::fp32, "fp32"},
  }};
};

/// Storage bits of one element of `t` (int4: 4, fp8: 8, fp16/bf16: 16, fp32: 32).
int bits_of(QuantType t);
bool is_integer(QuantType t);
bool is_fp8(QuantType t);
/// fp32, fp16 or bf16.
bool is_float(QuantType t);

/// The family that computes this (weight, activation) pair, or nullopt for an unsupported pair.
/// Supported pairs are listed in docs/plan.md ("Supported combinations").
std::optional<GemmFamily> family_of(QuantType weight, QuantType activation);

/// Whether the family accumulates integer products in int32 (and so has a K bound).
bool accumulates_in_int32(GemmFamily f);

/// Largest |value| an integer weight multiplies with: int8 127 (codes in [-127, 127]); int4 15
/// (code - zero point, both in 0..15). @pre is_integer(weight)
int max_weight_magnitude(QuantType weight);

/// What runs after the accumulation: bias, activation function, output conversion.
struct Epilogue {
  bool bias = false;                         ///< add a per-channel fp32 bias [N]
  Activation activation = Activation::none;  ///< applied after the bias
  /// fp32, fp16, bf16, or int8 = requantize with a static per-tensor output scale (given at run
  /// time) so that the next layer can consume int8 directly.
  QuantType output = QuantType::fp16;
};

struct LayerConfig {
  std::string name;  ///< free text for logs and tables; never part of generated code or keys

  std::int64_t n = 0;         ///< out-features: rows of W, columns of Y
  std::int64_t k = 0;         ///< in-features: the reduction dimension
  std::int64_t m_min = 1;     ///< smallest M (tokens) the layer is expected to see
  std::int64_t m_max = 2048;  ///< largest M; the tuner's buckets go up to it

  QuantType weight_quant = QuantType::int8;
  QuantType activation_quant = QuantType::int8;
  /// The dtype the kernel receives activations in (fp32, fp16 or bf16). For float activation
  /// types it equals activation_quant.
  QuantType input_dtype = QuantType::fp16;

  WeightGranularity weight_granularity = WeightGranularity::per_channel;
  int block_size = 0;  ///< k per weight group; > 0 exactly when per_group
  /// Symmetric weights have no zero point. Asymmetric (zero points) is supported for int4 only.
  bool weight_symmetric = true;

  ActivationScaling activation_scaling = ActivationScaling::dynamic_per_token;
  ScaleMethod scale_method = ScaleMethod::max;  ///< for the static activation scale
  double percentile = 99.99;                    ///< in (0, 100], used by ScaleMethod::percentile
  std::optional<double> smoothquant_alpha;      ///< in [0, 1]; set when the layer is smoothed

  Epilogue epilogue;
};

/// The largest K for which this layer's int32 accumulators cannot overflow (the bound counts the
/// products accumulated before a conversion to float: all of K, or one group for w4a8); nullopt
/// when the family accumulates in floating point.
std::optional<std::int64_t> max_k_for_int32_accumulation(const LayerConfig& layer);

/// Bytes of the layer's weights in the canonical storage of docs/numerics.md: the codes plus
/// scales (fp32) and zero points (one byte each).
std::int64_t weight_storage_bytes(const LayerConfig& layer);

/// Every rule of docs/plan.md that `layer` breaks, each as an Error whose `where` is
/// `path` + "." + the plan.json key (e.g. `layers[3].block_size`, `layers[0].m_range` for
/// m_min/m_max, `layers[0].epilogue.output_dtype`). Empty when the layer is valid.
std::vector<Error> validate_layer(const LayerConfig& layer, const std::string& path);

}  // namespace qk
