#include "bench/openblas_sgemm.hpp"

#include <cblas.h>

#include <cmath>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "tuner/rotating_buffers.hpp"

namespace qk::bench {

namespace {

struct SgemmRun {
  std::int64_t m = 0, n = 0, k = 0;
  tuner::RotatingBuffer inputs;   // fp32 A [m, k]
  tuner::RotatingBuffer weights;  // fp32 W [n, k], one copy per set when rotated
  tuner::AlignedBuffer dst;       // fp32 Y [m, n]

  void run(std::size_t i) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, inputs.set_as<float>(i),
                static_cast<blasint>(k), weights.set_as<float>(i), static_cast<blasint>(k), 0.0f,
                dst.as<float>(), static_cast<blasint>(n));
  }
};

Error failure(const GemmShape& shape, std::string message) {
  return Error{Errc::unsupported, fmt::format("OpenBLAS {}", shape.str()), std::move(message)};
}

}  // namespace

Expected<PreparedRun> prepare_openblas_sgemm(const GemmShape& shape,
                                             const CompetitorContext& context) {
  auto r = std::make_shared<SgemmRun>();
  r->m = shape.m;
  r->n = shape.n;
  r->k = shape.k;
  const auto mk = static_cast<std::size_t>(shape.m * shape.k);
  const auto nk = static_cast<std::size_t>(shape.n * shape.k);
  const auto mn = static_cast<std::size_t>(shape.m * shape.n);
  std::vector<float> a(mk), w(nk);
  fill_uniform(a.data(), mk, 1);
  fill_uniform(w.data(), nk, 2);

  const auto [rotate_weights, set_bytes, sets] =
      context.rotation(shape, mk * sizeof(float), nk * sizeof(float));
  Expected<tuner::RotatingBuffer> inputs =
      tuner::RotatingBuffer::create(std::as_bytes(std::span<const float>(a)), sets);
  if (!inputs) return inputs.error();
  r->inputs = std::move(*inputs);
  Expected<tuner::RotatingBuffer> weights = tuner::RotatingBuffer::create(
      std::as_bytes(std::span<const float>(w)), rotate_weights ? sets : 1);
  if (!weights) return weights.error();
  r->weights = std::move(*weights);
  Expected<tuner::AlignedBuffer> dst = tuner::AlignedBuffer::allocate(mn * sizeof(float));
  if (!dst) return dst.error();
  r->dst = std::move(*dst);

  openblas_set_num_threads(context.threads);
  r->run(0);

  // Rows 0 and m - 1 against a double-precision sum, within (k + 2) u Σ|a w| (numerics §8).
  const double u = std::ldexp(1.0, -24);
  double worst = 0;  // largest error as a fraction of its bound
  std::vector<std::int64_t> rows = {0};
  if (shape.m > 1) rows.push_back(shape.m - 1);
  for (std::int64_t row : rows) {
    for (std::int64_t col = 0; col < shape.n; ++col) {
      double sum = 0, magnitude = 0;
      for (std::int64_t j = 0; j < shape.k; ++j) {
        const double p = double{a[row * shape.k + j]} * w[col * shape.k + j];
        sum += p;
        magnitude += std::abs(p);
      }
      const double got = r->dst.as<float>()[row * shape.n + col];
      const double bound = (static_cast<double>(shape.k) + 2) * u * magnitude + 1e-30;
      const double ratio = std::abs(got - sum) / bound;
      if (!(ratio <= 1.0)) {
        return failure(shape, fmt::format("output [{}, {}] is {}, the reference {} (bound {:.2e})",
                                          row, col, got, sum, bound));
      }
      worst = std::max(worst, ratio);
    }
  }

  PreparedRun prepared;
  prepared.implementation = fmt::format("cblas_sgemm, core {}", openblas_get_corename());
  prepared.check =
      fmt::format("{}: largest error {:.2g}% of the fp32 error bound",
                  shape.m > 1 ? fmt::format("rows 0 and {}", shape.m - 1) : "row 0", 100 * worst);
  prepared.rotation_sets = sets;
  prepared.rotation_bytes = set_bytes;
  prepared.weight_bytes = nk * sizeof(float);
  prepared.run = [r](std::size_t i) { r->run(i); };
  return prepared;
}

std::string openblas_version() {
  return fmt::format("{} (core {}, {} threads max)", openblas_get_config(), openblas_get_corename(),
                     openblas_get_num_threads());
}

}  // namespace qk::bench
