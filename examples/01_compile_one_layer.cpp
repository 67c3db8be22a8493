// Example 1: compile one quantized layer and run it.
//
// A W8A8 linear layer (int8 per-channel weights, int8 activations quantized per token inside the
// kernel) of a Llama-2-7B attention projection, run on 16 tokens and checked against qk's
// reference implementation. Run it twice: the second run loads the kernel from the cache.
//
//   build/examples/01_compile_one_layer [CACHE_FILE]
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "qk/jit.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"

int main(int argc, char** argv) {
  // 1. Describe the layer (a plan.json layer carries the same fields; see docs/plan.md).
  qk::LayerConfig layer;
  layer.name = "model.layers.0.self_attn.q_proj";
  layer.n = 4096;  // out-features
  layer.k = 4096;  // in-features
  layer.weight_quant = qk::QuantType::int8;
  layer.weight_granularity = qk::WeightGranularity::per_channel;
  layer.activation_quant = qk::QuantType::int8;
  layer.activation_scaling = qk::ActivationScaling::dynamic_per_token;
  layer.input_dtype = qk::QuantType::fp32;
  layer.epilogue = {
      .bias = false, .activation = qk::Activation::none, .output = qk::QuantType::fp32};

  // 2. Compile it (or load it from the kernel cache).
  qk::CompileOptions options;
  if (argc > 1) options.cache = argv[1];
  const auto start = std::chrono::steady_clock::now();
  auto kernel = qk::jit::compile(layer, options);
  if (!kernel) {
    std::fprintf(stderr, "compile failed: %s\n", kernel.error().str().c_str());
    return 1;
  }
  const double compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const qk::jit::CompileStats stats = qk::jit::stats();
  std::printf("kernel %s\n  ready in %.1f ms (%s)\n", kernel->name().c_str(), compile_ms,
              stats.cache_hits > 0 ? "from the cache" : "compiled");

  // 3. Quantize and pack the weights once (here random; a model's would be loaded).
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> weights(layer.n * layer.k), activations(16 * layer.k), output(16 * layer.n);
  for (float& w : weights) w = 0.02f * normal(rng);
  for (float& a : activations) a = normal(rng);
  auto quantized =
      qk::quant::quantize_weights(weights, layer.n, layer.k, qk::quant::weight_format_of(layer));
  auto packed = kernel->pack(*quantized);
  if (!packed) {
    std::fprintf(stderr, "pack failed: %s\n", packed.error().str().c_str());
    return 1;
  }

  // 4. Run it: [16, k] fp32 activations in, [16, n] fp32 outputs out.
  const std::int64_t m = 16;
  auto ran = (*kernel)({activations.data(), qk::QuantType::fp32, m, layer.k, layer.k}, *packed,
                       {output.data(), qk::QuantType::fp32, m, layer.n, layer.n});
  if (!ran) {
    std::fprintf(stderr, "run failed: %s\n", ran.error().str().c_str());
    return 1;
  }

  // 5. Check it against the reference of docs/numerics.md.
  auto reference = qk::quant::reference_gemm(layer, {activations, m, &*quantized, {}, 0, 0});
  auto same = qk::quant::compare_to_reference(layer, *reference, output);
  std::printf("  y[0][0..3] = %.4f %.4f %.4f %.4f\n  matches the reference: %s\n", output[0],
              output[1], output[2], output[3], same ? "yes" : same.error().str().c_str());
  return same ? 0 : 1;
}
