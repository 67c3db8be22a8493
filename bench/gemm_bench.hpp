// The GEMM benchmark: a grid of layer shapes times a list of competitors, each timed with the
// tuner's measurement protocol on rotating inputs. A competitor is one function that prepares a
// callable for a shape; the table and JSON of qk-bench take their columns from the list, so
// adding a competitor (qk's own kernels, another library) is adding one entry.
//
// Every competitor computes the same layer: Y[m, n] = A[m, k] · W[n, k]ᵀ with A fp32 activations
// and W the layer's weights in the competitor's format (its own prepare() says which).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qk/error.hpp"
#include "tuner/measure.hpp"

namespace qk::bench {

struct GemmShape {
  std::int64_t m = 0;  ///< tokens: rows of A and Y
  std::int64_t n = 0;  ///< out-features: rows of W, columns of Y
  std::int64_t k = 0;  ///< in-features: the reduction

  /// Operations of the layer: 2·m·n·k (one multiply and one add per product).
  double ops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * k; }
  /// "MxNxK", the syntax parse_shape reads.
  std::string str() const;
};

/// Reads "MxNxK" (three positive integers, e.g. "16x11008x4096"). Error: Errc::invalid_argument
/// naming the text.
Expected<GemmShape> parse_shape(std::string_view text);

/// m ∈ {1, 16, 128, 512, 2048} × (n, k) ∈ {(4096, 4096), (11008, 4096), (4096, 11008)}: the
/// projections of a Llama-2-7B block, from decode (m = 1) to long prefill. Ordered by m.
std::vector<GemmShape> default_gemm_shapes();
/// A smoke-test subset: m ∈ {1, 128} × (4096, 4096).
std::vector<GemmShape> quick_gemm_shapes();

/// One shape ready to run.
struct PreparedRun {
  /// Does the whole work once, reading rotation set `i mod rotation_sets`. Must not fail: any
  /// check belongs in prepare.
  std::function<void(std::size_t)> run;
  std::string implementation;  ///< what actually runs (e.g. oneDNN's implementation name)
  std::string check;           ///< how its output was checked against a reference, and the result
  std::size_t rotation_sets = 1;   ///< copies of the working set cycled through
  std::size_t rotation_bytes = 0;  ///< bytes of one set (inputs, plus the weights when rotated)
  std::size_t weight_bytes = 0;    ///< bytes of weights one run reads (for the bandwidth column)
};

struct Competitor {
  std::string name;         ///< row label in the table and JSON, e.g. "onednn-w8a8"
  std::string description;  ///< one line: the formats and what the timed work includes
  /// Its arithmetic is int8 dot products (vpdpbusd): its Gop/s is compared with the VNNI peak.
  bool int8_dot = false;
  bool enabled_by_default = true;  ///< part of the default selection of qk-bench
  /// Builds the data, the plan/primitive and the rotation for a shape, runs it once and checks the
  /// result. Errors say why the competitor cannot run this shape; the grid records them per row.
  std::function<Expected<PreparedRun>(const GemmShape&)> prepare;
  /// Non-empty: why this machine leaves a default competitor out of the default selection
  /// (qk-bench prints it; naming the competitor in --competitors still runs it).
  std::string not_default_here = {};

  /// Part of qk-bench's default selection on this machine.
  bool runs_by_default() const { return enabled_by_default && not_default_here.empty(); }
  /// A default competitor that this machine leaves out (not_default_here says why).
  bool left_out_here() const { return enabled_by_default && !not_default_here.empty(); }
};

/// What prepare functions need to know about the machine and the run.
struct CompetitorContext {
  int threads = 1;
  std::size_t llc_bytes = tuner::kFallbackLlcBytes;  ///< sizes the rotations
  /// Rotate the weights at every m, not only at m = 1. By default the weights rotate only at
  /// m = 1 (decode reads them once per token, so they must come from DRAM); at m > 1 only the
  /// activations rotate and weights that fit in the LLC stay there between runs.
  bool rotate_weights_always = false;

  bool rotates_weights(const GemmShape& shape) const {
    return rotate_weights_always || shape.m == 1;
  }

  /// How a run cycles through copies of its working set: one set holds the inputs, plus the
  /// weights when they rotate, and there are enough sets that a cycle exceeds the LLC.
  struct Rotation {
    bool weights = false;       ///< the weights rotate too (rotates_weights)
    std::size_t set_bytes = 0;  ///< bytes of one set
    std::size_t sets = 1;       ///< copies (tuner::rotation_count)
  };
  Rotation rotation(const GemmShape& shape, std::size_t input_bytes,
                    std::size_t weight_bytes) const {
    Rotation r;
    r.weights = rotates_weights(shape);
    r.set_bytes = input_bytes + (r.weights ? weight_bytes : 0);
    r.sets = tuner::rotation_count(r.set_bytes, llc_bytes);
    return r;
  }
};

struct GridOptions {
  tuner::MeasureOptions measure;
  /// Idle time before each measurement, so that the previous one's worker threads (OpenBLAS
  /// spins about 0.1 s after a call, OpenMP briefly) have gone to sleep and do not compete.
  std::chrono::milliseconds settle{250};
  /// Time the competitors of a shape together, alternating within each round
  /// (tuner::measure_interleaved), instead of one after the other: their ratio then holds even
  /// when the host's speed changes during the shape. Holds every competitor's data of a shape in
  /// memory at once.
  bool interleave = false;
};

/// One (shape, competitor) cell of the grid.
struct GemmRow {
  GemmShape shape;
  std::string competitor;
  bool int8_dot = false;
  std::optional<Error> error;  ///< prepare failed: no timing
  tuner::Measurement time;
  PreparedRun info;  ///< without `run`
  double prepare_seconds = 0;

  double gops() const { return time.median_ns > 0 ? shape.ops() / time.median_ns : 0; }
  /// Weight bytes read per second, GB/s (1e9 B/s).
  double weight_gbps() const {
    return time.median_ns > 0 ? static_cast<double>(info.weight_bytes) / time.median_ns : 0;
  }
};

/// Called after each row with (row, index of the row, total rows), e.g. for progress lines.
using GridProgress = std::function<void(const GemmRow&, std::size_t, std::size_t)>;

/// Runs every competitor on every shape (shape-major), one after the other (or alternating, with
/// options.interleave). The memory of a prepared run is released before the next shape (the next
/// competitor, unless interleaved) is prepared.
std::vector<GemmRow> run_gemm_grid(const std::vector<GemmShape>& shapes,
                                   const std::vector<Competitor>& competitors,
                                   const GridOptions& options, const GridProgress& progress = {});

/// Deterministic test data: uniform floats in [-1, 1) and int8 codes in [-127, 127] from a
/// seeded generator (splitmix64), fast enough for hundreds of MB.
void fill_uniform(float* x, std::size_t count, std::uint64_t seed);
void fill_int8_codes(std::int8_t* x, std::size_t count, std::uint64_t seed);

}  // namespace qk::bench
