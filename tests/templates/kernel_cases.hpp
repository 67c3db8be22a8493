// Lists of kernel checks that every ISA's test executable runs on its own configs: a case is one
// check (a kernel config bound into a check function) and the layer it runs on; the sweeps run
// each case on every m of a list (and every n), seeds counting up, so that a check body is written
// once and each ISA's file names only its configs.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "qk/layer_config.hpp"

namespace qk::test {

/// How a check's weights are quantized.
struct Weights {
  WeightGranularity granularity;
  int block_size = 0;     ///< per_group only
  bool symmetric = true;  ///< int4 only: false adds zero points
};

/// A kernel check of one config on m rows of an n x k layer, e.g. check_w8a8<C>.
using CheckFn = void (*)(std::int64_t m, std::int64_t n, std::int64_t k, Weights w, unsigned seed);

/// One check on an n x k layer.
struct Case {
  CheckFn check;
  std::int64_t n, k;
  Weights weights;
};

/// One check on k columns of weights, run on every n of a sweep.
struct KCase {
  CheckFn check;
  std::int64_t k;
  Weights weights;
};

/// Every case of `shared`, then of `isa_only`, on each m in turn; returns the next unused seed.
inline unsigned sweep_m(std::initializer_list<std::int64_t> ms, std::initializer_list<Case> shared,
                        std::initializer_list<Case> isa_only, unsigned seed) {
  for (const std::int64_t m : ms)
    for (const auto cases : {shared, isa_only})
      for (const Case& c : cases) c.check(m, c.n, c.k, c.weights, seed++);
  return seed;
}

/// Every case of `shared`, then of `isa_only`, on each m x n in turn; returns the next unused seed.
inline unsigned sweep_m_n(std::initializer_list<std::int64_t> ms,
                          std::initializer_list<std::int64_t> ns,
                          std::initializer_list<KCase> shared,
                          std::initializer_list<KCase> isa_only, unsigned seed) {
  for (const std::int64_t m : ms)
    for (const std::int64_t n : ns)
      for (const auto cases : {shared, isa_only})
        for (const KCase& c : cases) c.check(m, n, c.k, c.weights, seed++);
  return seed;
}

}  // namespace qk::test
