// Lists of kernel checks that every ISA's test executable runs on its own tiles: a case is one
// check (a kernel config bound into a check function) and the layer it runs on; the sweeps run
// each case on every m of a list (and every n), seeds counting up, so that a check body is written
// once and each ISA's file names only its tiles.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "cpu/config.hpp"
#include "qk/layer_config.hpp"

namespace qk::test {

/// The part of a kernel config that an ISA's test file picks for a shared check: the register
/// budget differs between ISAs, the inputs and epilogue that the check covers do not, so those
/// the check sets (tiled). A field left 0 keeps the config type's default.
struct Tile {
  int mr = 0, nv = 0;
  int kc = 0;  ///< W8A8 only: the other families do not block K
  int mc = 0, nc = 0;
};

/// `c` generated for ISA I on the tile T.
template <cpu::Isa I, Tile T, class Config>
constexpr Config tiled(Config c) {
  c.isa = I;
  if (T.mr != 0) c.mr = T.mr;
  if (T.nv != 0) c.nv = T.nv;
  if (T.mc != 0) c.mc = T.mc;
  if (T.nc != 0) c.nc = T.nc;
  if constexpr (requires { c.kc; }) {
    if (T.kc != 0) c.kc = T.kc;
  } else {
    static_assert(T.kc == 0, "Only W8A8 configs block K.");
  }
  return c;
}

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
