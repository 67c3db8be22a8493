// Every competitor qk-bench knows on the cpu target. The table and JSON of qk-bench take their
// rows from this list; add a competitor by adding an entry (a name and a prepare function, see
// gemm_bench.hpp).
#pragma once

#include <vector>

#include "bench/gemm_bench.hpp"

namespace qk::bench {

/// All cpu competitors: qk-w8a8, onednn-w8a8, openblas-sgemm (default); qk-w4a8, qk-w8a16,
/// qk-w4a16, onednn-w8a8-s8 and onednn-int8-matmul (on request, for comparisons and cost
/// breakdowns).
std::vector<Competitor> cpu_gemm_competitors(const CompetitorContext& context);

}  // namespace qk::bench
