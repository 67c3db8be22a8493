// A separate process for the cache tests of jit_compile_test.cpp: compiles one W8A8 layer with the
// cache file given as argv[1], runs it once against the reference, and prints
// "compiles=<n> cache_hits=<n> evicted=<n> compile_ms=<ms> correct=<0|1>".
#include <chrono>
#include <cstdio>

#include "qk/jit.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: jit_probe CACHE_FILE\n");
    return 2;
  }
  qk::LayerConfig layer;
  layer.name = "probe";
  layer.n = 40;
  layer.k = 72;
  layer.input_dtype = qk::QuantType::fp32;
  layer.epilogue.output = qk::QuantType::fp32;
  layer.m_max = 1;  // the first M bucket only: one kernel instance, on every cpu level

  const auto start = std::chrono::steady_clock::now();
  auto kernel = qk::jit::compile(layer, {.cache = argv[1]});
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!kernel) {
    std::fprintf(stderr, "%s\n", kernel.error().str().c_str());
    return 1;
  }
  const std::int64_t m = 3;
  std::vector<float> a(m * layer.k), w(layer.n * layer.k), y(m * layer.n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 13) - 6.0f;
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) * 0.01f - 0.03f;
  auto qw = qk::quant::quantize_weights(w, layer.n, layer.k, qk::quant::weight_format_of(layer));
  auto packed = kernel->pack(*qw);
  auto ran = (*kernel)({a.data(), qk::QuantType::fp32, m, layer.k, layer.k}, *packed,
                       {y.data(), qk::QuantType::fp32, m, layer.n, layer.n});
  auto ref = qk::quant::reference_gemm(layer, {a, m, &*qw, {}, 0, 0});
  const bool correct = ran && ref && qk::quant::compare_to_reference(layer, *ref, y);
  const qk::jit::CompileStats s = qk::jit::stats();
  std::printf("compiles=%lld cache_hits=%lld evicted=%lld compile_ms=%.3f correct=%d\n",
              static_cast<long long>(s.compiles), static_cast<long long>(s.cache_hits),
              static_cast<long long>(s.evicted), ms, correct ? 1 : 0);
  return correct ? 0 : 1;
}
