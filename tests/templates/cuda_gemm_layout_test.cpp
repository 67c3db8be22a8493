// The index maps of the CUDA GEMM kernel (templates/cuda/gemm_layout.cuh), checked on the CPU with
// the very functions the kernel calls: a warp's ldmatrix.x4 and mma.sync (m16n8k32 for 8-bit
// operands, m16n8k16 for 16-bit ones) are emulated from the PTX ISA's definitions (written here
// independently of the kernel), over shared memory laid out as the kernel lays it out, and the
// accumulators the epilogue stores must be the exact product of the tiles. 16-bit operands are
// filled with small integers (their bits read as int16): where each element lands is what is
// tested, and integer sums make "exact" exact. No GPU; this is not cuda-emu (it runs no kernel
// code), it proves the layout algebra the kernel relies on.
#include "cuda/gemm_layout.cuh"

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace {

using qk::cuda::Code;
using qk::cuda::Scaling;

template <int BM, int BN, int BK, int WM, int WN, int S, Code A = Code::int8>
struct Config {
  static constexpr Code A_CODE = A;
  static constexpr Code W_CODE = A;
  static constexpr int GROUP_SIZE = 0;
  static constexpr bool W_ZERO = false;
  static constexpr Scaling SCALING = A == Code::int8 ? Scaling::static_per_tensor : Scaling::none;
  static constexpr int BLOCK_M = BM, BLOCK_N = BN, BLOCK_K = BK;
  static constexpr int WARPS_M = WM, WARPS_N = WN, STAGES = S;
};

/// ldmatrix.sync.aligned.m8n8.x4.b16 (PTX ISA): lanes 8j..8j+7 give the row addresses of matrix
/// j; lane t receives, of each matrix j, the 32 bits at row t / 4, bytes 4 (t % 4)..+3.
std::vector<std::array<std::uint32_t, 4>> ldmatrix_x4(const std::vector<std::uint8_t>& smem,
                                                      const std::array<int, 32>& addr) {
  std::vector<std::array<std::uint32_t, 4>> out(32);
  for (int t = 0; t < 32; ++t)
    for (int j = 0; j < 4; ++j) {
      const int a = addr[8 * j + t / 4] + 4 * (t % 4);
      out[t][j] = smem[a] | smem[a + 1] << 8 | smem[a + 2] << 16 | std::uint32_t(smem[a + 3]) << 24;
    }
  return out;
}

std::int8_t byte_of(std::uint32_t word, int b) {
  return std::int8_t(word >> (8 * b));
}

/// mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 (PTX ISA fragment tables), g = lane / 4,
/// t = lane % 4: A[g + 8 (r & 1)][4t + 16 (r >> 1) + b] is byte b of a[r]; B[4t + 16 r + b][g] is
/// byte b of b[r]; D[g + 8 (e >> 1)][2t + (e & 1)] is d[e].
void mma_16832(std::vector<std::array<std::int32_t, 4>>& d,
               const std::vector<std::array<std::uint32_t, 4>>& a,
               const std::vector<std::array<std::uint32_t, 2>>& b) {
  int A[16][32], B[32][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int r = 0; r < 4; ++r)
      for (int byte = 0; byte < 4; ++byte)
        A[g + 8 * (r & 1)][4 * t + 16 * (r >> 1) + byte] = byte_of(a[lane][r], byte);
    for (int r = 0; r < 2; ++r)
      for (int byte = 0; byte < 4; ++byte) B[4 * t + 16 * r + byte][g] = byte_of(b[lane][r], byte);
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int e = 0; e < 4; ++e) {
      const int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
      for (int k = 0; k < 32; ++k) d[lane][e] += A[row][k] * B[k][col];
    }
  }
}

std::int16_t half_of(std::uint32_t word, int h) {
  return std::int16_t(word >> (16 * h));
}

/// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 (PTX ISA 9.0, §9.7.14.5.8 "Matrix Fragments
/// for mma.m16n8k16 with floating point type"), g = lane / 4, t = lane % 4, element i of a
/// fragment in half i % 2 of register i / 2: A[g + 8 (r & 1)][2t + 8 (r >> 1) + h] is half h of
/// a[r]; B[2t + 8 r + h][g] is half h of b[r]; D[g + 8 (e >> 1)][2t + (e & 1)] is d[e].
void mma_16816(std::vector<std::array<std::int32_t, 4>>& d,
               const std::vector<std::array<std::uint32_t, 4>>& a,
               const std::vector<std::array<std::uint32_t, 2>>& b) {
  int A[16][16], B[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h)
        A[g + 8 * (r & 1)][2 * t + 8 * (r >> 1) + h] = half_of(a[lane][r], h);
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h) B[2 * t + 8 * r + h][g] = half_of(b[lane][r], h);
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int e = 0; e < 4; ++e) {
      const int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
      for (int k = 0; k < 16; ++k) d[lane][e] += A[row][k] * B[k][col];
    }
  }
}

/// A shared-memory access of 16 bytes per lane is conflict-free when the 8 lanes of a phase hit
/// 8 distinct 16-byte bank groups; returns the worst number of lanes sharing one.
int worst_conflict(const std::vector<int>& addresses) {
  int worst = 1;
  for (std::size_t phase = 0; phase < addresses.size(); phase += 8) {
    int count[8] = {};
    for (std::size_t l = phase; l < phase + 8 && l < addresses.size(); ++l)
      worst = std::max(worst, ++count[(addresses[l] / 16) % 8]);
  }
  return worst;
}

template <class C>
void check_layout() {
  using L = qk::cuda::GemmLayout<C>;
  constexpr int BYTES = qk::cuda::code_bits(C::A_CODE) / 8;  // per element, A and W alike
  SCOPED_TRACE(testing::Message() << C::BLOCK_M << "x" << C::BLOCK_N << "x" << C::BLOCK_K << "_w"
                                  << C::WARPS_M << "x" << C::WARPS_N << "_s" << C::STAGES << " "
                                  << 8 * BYTES << "-bit");
  std::mt19937 rng(C::BLOCK_M * 131 + C::BLOCK_N * 7 + C::BLOCK_K + BYTES);
  std::uniform_int_distribution<int> code(-127, 127);

  // The tiles, and shared memory as the kernel lays them out: the A tile the mma reads (the
  // int8 tile of a quantized A, stage 1's 16-bit A tile otherwise) and stage 1's W tile (stage 1:
  // its offset is not 0); everything else, padding included, is poison.
  std::vector<int> a(C::BLOCK_M * C::BLOCK_K), w(C::BLOCK_N * C::BLOCK_K);
  for (auto& x : a) x = code(rng);
  for (auto& x : w) x = code(rng);
  std::vector<std::uint8_t> smem(L::SMEM_BYTES, 0x55);
  const int a_base = L::QUANTIZE_A ? L::A8_OFFSET : 1 * L::STAGE;
  const int a_stride = L::QUANTIZE_A ? L::A8_STRIDE : L::A16_STRIDE;
  const int w_base = 1 * L::STAGE + L::W_OFFSET;
  auto put = [&](int at, int value) {
    for (int b = 0; b < BYTES; ++b) smem[at + b] = std::uint8_t(value >> (8 * b));
  };
  for (int r = 0; r < C::BLOCK_M; ++r)
    for (int k = 0; k < C::BLOCK_K; ++k)
      put(a_base + r * a_stride + BYTES * k, a[r * C::BLOCK_K + k]);
  for (int n = 0; n < C::BLOCK_N; ++n)
    for (int k = 0; k < C::BLOCK_K; ++k)
      put(w_base + n * L::W_STRIDE + BYTES * k, w[n * C::BLOCK_K + k]);
  ASSERT_LE(a_base + C::BLOCK_M * a_stride, L::SMEM_BYTES);
  ASSERT_EQ(L::MMA_ROW_BYTES, BYTES * C::BLOCK_K);

  // Every warp's main loop over one k-tile, then the epilogue's map of its accumulators.
  std::vector<int> y(C::BLOCK_M * C::BLOCK_N, 0), writes(C::BLOCK_M * C::BLOCK_N, 0);
  int worst_ldmatrix = 1;
  for (int warp = 0; warp < L::THREADS / 32; ++warp) {
    const int warp_m = L::warp_row0(warp), warp_n = L::warp_col0(warp);
    std::vector<std::vector<std::vector<std::array<std::int32_t, 4>>>> acc(
        L::MMA_M, std::vector<std::vector<std::array<std::int32_t, 4>>>(
                      L::MMA_N, std::vector<std::array<std::int32_t, 4>>(32, {0, 0, 0, 0})));
    for (int kb = 0; kb < L::MMA_ROW_BYTES; kb += 32) {
      std::vector<std::vector<std::array<std::uint32_t, 4>>> a_frag(L::MMA_M);
      std::vector<std::vector<std::array<std::uint32_t, 2>>> b_frag(
          L::MMA_N, std::vector<std::array<std::uint32_t, 2>>(32));
      for (int i = 0; i < L::MMA_M; ++i) {
        std::array<int, 32> addr;
        for (int lane = 0; lane < 32; ++lane)
          addr[lane] =
              a_base + L::a_frag_row(warp_m, i, lane) * a_stride + L::a_frag_byte(kb, lane);
        worst_ldmatrix = std::max(worst_ldmatrix, worst_conflict({addr.begin(), addr.end()}));
        a_frag[i] = ldmatrix_x4(smem, addr);
      }
      for (int p = 0; p < L::MMA_N / 2; ++p) {
        std::array<int, 32> addr;
        for (int lane = 0; lane < 32; ++lane)
          addr[lane] =
              w_base + L::w_frag_row(warp_n, p, lane) * L::W_STRIDE + L::w_frag_byte(kb, lane);
        worst_ldmatrix = std::max(worst_ldmatrix, worst_conflict({addr.begin(), addr.end()}));
        const auto r = ldmatrix_x4(smem, addr);
        for (int lane = 0; lane < 32; ++lane) {
          b_frag[2 * p][lane] = {r[lane][0], r[lane][1]};
          b_frag[2 * p + 1][lane] = {r[lane][2], r[lane][3]};
        }
      }
      for (int i = 0; i < L::MMA_M; ++i)
        for (int n = 0; n < L::MMA_N; ++n) {
          if constexpr (BYTES == 1)
            mma_16832(acc[i][n], a_frag[i], b_frag[n]);
          else
            mma_16816(acc[i][n], a_frag[i], b_frag[n]);
        }
    }
    for (int i = 0; i < L::MMA_M; ++i)
      for (int n = 0; n < L::MMA_N; ++n)
        for (int lane = 0; lane < 32; ++lane)
          for (int e = 0; e < 4; ++e) {
            const int row = warp_m + 16 * i + L::acc_row(e, lane);
            const int col = warp_n + 8 * n + L::acc_col(e, lane);
            ASSERT_LT(row, C::BLOCK_M);
            ASSERT_LT(col, C::BLOCK_N);
            y[row * C::BLOCK_N + col] = acc[i][n][lane][e];
            ++writes[row * C::BLOCK_N + col];
          }
  }
  EXPECT_EQ(worst_ldmatrix, 1) << "ldmatrix phases must be free of bank conflicts";
  for (int m = 0; m < C::BLOCK_M; ++m)
    for (int n = 0; n < C::BLOCK_N; ++n) {
      ASSERT_EQ(writes[m * C::BLOCK_N + n], 1) << "element (" << m << ", " << n << ")";
      int ref = 0;
      for (int k = 0; k < C::BLOCK_K; ++k) ref += a[m * C::BLOCK_K + k] * w[n * C::BLOCK_K + k];
      ASSERT_EQ(y[m * C::BLOCK_N + n], ref) << "element (" << m << ", " << n << ")";
    }

  // The copies cover each tile element exactly once, 16 bytes per chunk; cp.async's 16-byte
  // writes conflict at most 2-way (when a row has fewer than 8 chunks, two rows share a phase).
  std::set<std::pair<int, int>> a_seen, w_seen;
  std::vector<int> a_dst, w_dst;
  for (int chunk = 0; chunk < L::A_CHUNKS; ++chunk) {
    for (int e = 0; e < 8; ++e) a_seen.insert({L::a_chunk_row(chunk), L::a_chunk_k(chunk) + e});
    a_dst.push_back(L::a_chunk_row(chunk) * L::A16_STRIDE + 2 * L::a_chunk_k(chunk));
  }
  for (int chunk = 0; chunk < L::W_CHUNKS; ++chunk) {
    for (int e = 0; e < 16; ++e) w_seen.insert({L::w_chunk_row(chunk), L::w_chunk_byte(chunk) + e});
    w_dst.push_back(L::W_OFFSET + L::w_chunk_row(chunk) * L::W_STRIDE + L::w_chunk_byte(chunk));
  }
  EXPECT_EQ(a_seen.size(), std::size_t(C::BLOCK_M * C::BLOCK_K));
  EXPECT_EQ(w_seen.size(), std::size_t(C::BLOCK_N * L::W_ROW_BYTES));
  EXPECT_EQ(a_seen.rbegin()->first, C::BLOCK_M - 1);
  EXPECT_EQ(w_seen.rbegin()->first, C::BLOCK_N - 1);
  EXPECT_EQ(a_dst.front() % 16 + w_dst.front() % 16, 0);
  EXPECT_LE(worst_conflict(a_dst), 2);
  EXPECT_LE(worst_conflict(w_dst), 2);
}

// The tiles codegen ships (codegen::cuda_tiles) and odd shapes the rules allow, for 8-bit
// operands (w8a8) and 16-bit ones (fp16/bf16: one map for both types).
TEST(CudaGemmLayout, WarpsComputeTheExactTileProduct) {
  check_layout<Config<128, 128, 64, 2, 2, 3>>();
  check_layout<Config<64, 64, 64, 2, 2, 3>>();
  check_layout<Config<16, 128, 128, 1, 4, 4>>();
  check_layout<Config<32, 64, 32, 1, 2, 2>>();
  check_layout<Config<48, 32, 96, 3, 1, 2>>();
  check_layout<Config<64, 192, 64, 4, 2, 2>>();
}

TEST(CudaGemmLayout, SixteenBitWarpsComputeTheExactTileProduct) {
  check_layout<Config<128, 128, 32, 2, 2, 4, Code::fp16>>();
  check_layout<Config<64, 64, 32, 2, 2, 4, Code::fp16>>();
  check_layout<Config<16, 128, 64, 1, 4, 4, Code::bf16>>();
  check_layout<Config<32, 64, 96, 1, 2, 2, Code::fp16>>();
  check_layout<Config<48, 48, 64, 3, 1, 2, Code::bf16>>();
}

}  // namespace
