// Example 2: run qk's CUDA kernel for a layer without a GPU, under cuda-emu.
//
// The same W8A8 layer as a GPU would run it (fp16 activations quantized per token inside the
// kernel, int8 weights, tensor-core mma.sync, fp16 output), compiled for the host and executed
// by the emulator (docs/cuda_emu.md), then checked against qk's reference. A smaller layer than
// example 1: every CUDA thread of every block is played on the CPU.
//
//   build/examples/02_cuda_kernel_on_cpu [CACHE_FILE]
#include <cstdio>
#include <random>
#include <vector>

#include "qk/jit.hpp"
#include "quant/float_formats.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"

int main(int argc, char** argv) {
  qk::LayerConfig layer;
  layer.name = "mlp.down_proj";
  layer.n = 256;
  layer.k = 512;  // the CUDA kernels need k to be a multiple of 16
  layer.activation_scaling = qk::ActivationScaling::dynamic_per_token;
  layer.input_dtype = qk::QuantType::fp16;
  layer.epilogue = {.bias = false, .activation = qk::Activation::none,
                    .output = qk::QuantType::fp16};
  layer.m_max = 64;

  qk::CompileOptions options{.target = qk::Target::cuda_emu};
  if (argc > 1) options.cache = argv[1];
  auto kernel = qk::jit::compile(layer, options);
  if (!kernel) {
    std::fprintf(stderr, "compile failed: %s\n", kernel.error().str().c_str());
    return 1;
  }
  const std::int64_t m = 40;
  std::printf("kernel %s\n", kernel->name(m).c_str());

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> weights(layer.n * layer.k), activations(m * layer.k);
  for (float& w : weights) w = 0.02f * normal(rng);
  for (float& a : activations) a = qk::quant::round_to(qk::QuantType::fp16, normal(rng));
  auto quantized =
      qk::quant::quantize_weights(weights, layer.n, layer.k, qk::quant::weight_format_of(layer));
  auto packed = kernel->pack(*quantized);
  if (!packed) {
    std::fprintf(stderr, "pack failed: %s\n", packed.error().str().c_str());
    return 1;
  }
  // fp16 in, fp16 out, as the GPU kernel reads and writes them.
  std::vector<std::uint16_t> a16(activations.size()), y16(m * layer.n);
  for (std::size_t i = 0; i < a16.size(); ++i) a16[i] = qk::quant::float_to_fp16(activations[i]);
  auto ran = (*kernel)({a16.data(), qk::QuantType::fp16, m, layer.k, layer.k}, *packed,
                       {y16.data(), qk::QuantType::fp16, m, layer.n, layer.n});
  if (!ran) {
    std::fprintf(stderr, "run failed: %s\n", ran.error().str().c_str());
    return 1;
  }
  std::vector<float> y(y16.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = qk::quant::fp16_to_float(y16[i]);
  auto reference = qk::quant::reference_gemm(layer, {activations, m, &*quantized, {}, 0, 0});
  auto same = qk::quant::compare_to_reference(layer, *reference, y);
  std::printf("  y[0][0..3] = %.4f %.4f %.4f %.4f\n  matches the reference: %s\n", y[0], y[1], y[2],
              y[3], same ? "yes" : same.error().str().c_str());
  return same ? 0 : 1;
}
