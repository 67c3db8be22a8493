// The index maps of the CUDA GEMM kernel (templates/cuda/gemm_layout.cuh), checked on the CPU with
// the very functions the kernel calls: a warp's ldmatrix.x4 and mma.sync (m16n8k32 for 8-bit
// operands, m16n8k16 for 16-bit ones) are emulated from the PTX ISA's definitions (written here
// independently of the kernel), over shared memory laid out as the kernel lays it out, and the
// accumulators the epilogue stores must be the exact product of the tiles. 16-bit operands are
// filled with small integers (their bits read as int16): where each element lands is what is
// tested, and integer sums make "exact" exact. No GPU; this is not cuda-emu (it runs no kernel
// code), it proves the layout algebra the kernel relies on.
#include "cuda/gemm_layout.cuh"

#include "quant/pack_cuda.hpp"

#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace {

using qk::cuda::Code;
using qk::cuda::Scaling;

template <int BM, int BN, int BK, int WM, int WN, int S, Code A = Code::int8, Code W = A,
          int GROUP = 0, bool ZERO = false>
struct Config {
  static constexpr Code A_CODE = A;
  static constexpr Code W_CODE = W;
  static constexpr int GROUP_SIZE = GROUP;
  static constexpr bool W_ZERO = ZERO;
  static constexpr Scaling SCALING =
      qk::cuda::code_bits(A) == 8 ? Scaling::static_per_tensor : Scaling::none;
  static constexpr qk::cuda::AQuant A_QUANT = qk::cuda::AQuant::in_cta;
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
  const int a_stride = L::QUANTIZE_A ? L::A8_STRIDE : L::A_STRIDE;
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
    a_dst.push_back(L::a_chunk_row(chunk) * L::A_STRIDE + 2 * L::a_chunk_k(chunk));
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
  // fp8 (e4m3/e5m2 share the .s8 fragments of m16n8k32, PTX ISA 9.0 §9.7.14.5.10): the same
  // bytes, so the same maps; its 8-warp prefill tile.
  check_layout<Config<128, 128, 64, 2, 4, 3, Code::fp8_e4m3>>();
  check_layout<Config<16, 128, 128, 1, 4, 4, Code::fp8_e5m2, Code::fp8_e4m3>>();
}

TEST(CudaGemmLayout, SixteenBitWarpsComputeTheExactTileProduct) {
  check_layout<Config<128, 128, 32, 2, 2, 4, Code::fp16>>();
  check_layout<Config<64, 64, 32, 2, 2, 4, Code::fp16>>();
  check_layout<Config<16, 128, 64, 1, 4, 4, Code::bf16>>();
  check_layout<Config<32, 64, 96, 1, 2, 2, Code::fp16>>();
  check_layout<Config<48, 48, 64, 3, 1, 2, Code::bf16>>();
}

// int4 W (w4a16, w4a8): weights quantized and packed by quant/pack_cuda.hpp in the order of the
// activations' mma, one k-tile of them placed in stage 1 as the kernel's copies place it; every
// warp's ldmatrix.x4 of n8 quads (w4_frag_row/w4_frag_byte), the nibbles of each lane's word
// taken as WStep documents it — 16-bit A: piece h is nibbles 4h..4h+3, b[0] = 4h, 4h+1 and
// b[1] = 4h+2, 4h+3 (lower half first); int8 A: b[0] = nibbles 0-3, b[1] = nibbles 4-7 (lowest
// byte first) — their values code - zero fed to the emulated mma (m16n8k16 or m16n8k32) with A's
// tile: the accumulators must be the exact integer product A · (code - zero)ᵀ. And the group
// parameters' copies place [array][group][column] where WStep and add_group_sums read them.
template <class C>
void check_int4_layout(std::int64_t k_tile) {
  using L = qk::cuda::GemmLayout<C>;
  SCOPED_TRACE(testing::Message() << C::BLOCK_M << "x" << C::BLOCK_N << "x" << C::BLOCK_K << "_w"
                                  << C::WARPS_M << "x" << C::WARPS_N << " group " << C::GROUP_SIZE
                                  << " zero " << C::W_ZERO << " k-tile " << k_tile);
  // Past the k-tile, rounded up to whole groups.
  const std::int64_t K =
      (C::BLOCK_K * (k_tile + 2) + C::GROUP_SIZE - 1) / C::GROUP_SIZE * C::GROUP_SIZE;
  std::mt19937 rng(C::BLOCK_N * 31 + C::BLOCK_K + C::GROUP_SIZE);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> wf(C::BLOCK_N * K);
  for (auto& x : wf) x = normal(rng);
  auto q = qk::quant::quantize_weights(
      wf, C::BLOCK_N, K,
      {qk::QuantType::int4, qk::WeightGranularity::per_group, C::GROUP_SIZE, !C::W_ZERO});
  ASSERT_TRUE(q) << q.error().str();
  constexpr bool INT8_A = C::A_CODE == Code::int8;
  auto packed = qk::quant::pack_cuda_int4(
      *q, INT8_A ? qk::quant::CudaInt4Order::m16n8k32 : qk::quant::CudaInt4Order::m16n8k16);
  ASSERT_TRUE(packed) << packed.error().str();

  std::uniform_int_distribution<int> code(-127, 127);
  std::vector<int> a(C::BLOCK_M * C::BLOCK_K);
  for (auto& x : a) x = code(rng);
  std::vector<std::uint8_t> smem(L::SMEM_BYTES, 0x55);
  const int stage = 1 * L::STAGE, w_base = stage + L::W_OFFSET;
  const int a_base = INT8_A ? L::A8_OFFSET : stage;
  const int a_stride = INT8_A ? L::A8_STRIDE : L::A_STRIDE;
  for (int r = 0; r < C::BLOCK_M; ++r)
    for (int k = 0; k < C::BLOCK_K; ++k)
      for (int b = 0; b < (INT8_A ? 1 : 2); ++b)
        smem[a_base + r * a_stride + (INT8_A ? 1 : 2) * k + b] =
            std::uint8_t(a[r * C::BLOCK_K + k] >> (8 * b));
  // The weights' copies, as load_stage issues them: chunk -> (row, byte), from row n's bytes
  // k0 / 2 + byte of the packed global rows.
  for (int chunk = 0; chunk < L::W_CHUNKS; ++chunk) {
    const int r = L::w_chunk_row(chunk), c = L::w_chunk_byte(chunk);
    for (int b = 0; b < 16; ++b)
      smem[w_base + r * L::W_STRIDE + c + b] =
          packed->codes[r * K / 2 + k_tile * C::BLOCK_K / 2 + c + b];
  }
  // The group parameters' copies: chunk -> 16 bytes at WS_OFFSET + 16 chunk, from row
  // (k0 / GROUP_SIZE + group) of the scales (array 0) or zero points (array 1).
  std::vector<int> seen(2 * L::WS_FLOATS, 0);
  for (int chunk = 0; chunk < L::WS_CHUNKS; ++chunk) {
    const int g = int(k_tile * C::BLOCK_K / C::GROUP_SIZE) + L::ws_chunk_group(chunk);
    const int col = L::ws_chunk_col(chunk);
    const auto& src = L::ws_chunk_array(chunk) == 0 ? packed->scales : packed->zero_points;
    for (int e = 0; e < 4; ++e) {
      ++seen[L::ws_chunk_array(chunk) * L::WS_FLOATS + L::ws_chunk_group(chunk) * C::BLOCK_N + col +
             e];
      float v = src[g * packed->n_padded + col + e];
      std::memcpy(&smem[stage + L::WS_OFFSET + 16 * chunk + 4 * e], &v, 4);
    }
  }
  for (int i = 0; i < L::WS_FLOATS * L::WS_ARRAYS; ++i) ASSERT_EQ(seen[i], 1) << "float " << i;

  std::vector<int> y(C::BLOCK_M * C::BLOCK_N, 0);
  for (int warp = 0; warp < L::THREADS / 32; ++warp) {
    const int warp_m = L::warp_row0(warp), warp_n = L::warp_col0(warp);
    std::vector<std::vector<std::vector<std::array<std::int32_t, 4>>>> acc(
        L::MMA_M, std::vector<std::vector<std::array<std::int32_t, 4>>>(
                      L::MMA_N, std::vector<std::array<std::int32_t, 4>>(32, {0, 0, 0, 0})));
    for (int kk = 0; kk < C::BLOCK_K; kk += 32) {
      std::vector<std::array<std::uint32_t, 32>> words(L::MMA_N);
      for (int qd = 0; qd < L::MMA_N / 4; ++qd) {
        std::array<int, 32> addr;
        for (int lane = 0; lane < 32; ++lane)
          addr[lane] =
              w_base + L::w4_frag_row(warp_n, qd, lane) * L::W_STRIDE + L::w4_frag_byte(kk);
        EXPECT_EQ(worst_conflict({addr.begin(), addr.end()}), 1);
        const auto r = ldmatrix_x4(smem, addr);
        for (int lane = 0; lane < 32; ++lane)
          for (int j = 0; j < 4; ++j) words[4 * qd + j][lane] = r[lane][j];
      }
      const int group = L::GROUPS_PER_TILE > 1 ? kk / C::GROUP_SIZE : 0;
      for (int h = 0; h < L::MMA_PER_K32; ++h) {
        std::vector<std::array<std::uint32_t, 4>> a_frag[L::MMA_M];
        for (int i = 0; i < L::MMA_M; ++i) {
          std::array<int, 32> addr;
          for (int lane = 0; lane < 32; ++lane)
            addr[lane] = a_base + L::a_frag_row(warp_m, i, lane) * a_stride +
                         L::a_frag_byte(kk * L::MMA_PER_K32 + 32 * h, lane);
          a_frag[i] = ldmatrix_x4(smem, addr);
        }
        for (int n = 0; n < L::MMA_N; ++n) {
          std::vector<std::array<std::uint32_t, 2>> b(32);
          for (int lane = 0; lane < 32; ++lane) {
            const int col = warp_n + 8 * n + lane / 4;
            float zero = 8.0f;
            if (C::W_ZERO)
              std::memcpy(
                  &zero,
                  &smem[stage + L::WS_OFFSET + 4 * (L::WS_FLOATS + group * C::BLOCK_N + col)], 4);
            auto value = [&](int nibble) {
              return int((words[n][lane] >> (4 * nibble)) & 0xf) - int(zero);
            };
            for (int r = 0; r < 2; ++r) {
              if (INT8_A) {
                b[lane][r] = 0;
                for (int j = 0; j < 4; ++j)
                  b[lane][r] |= std::uint32_t(std::uint8_t(value(4 * r + j))) << (8 * j);
              } else {
                b[lane][r] = std::uint32_t(std::uint16_t(value(4 * h + 2 * r))) |
                             std::uint32_t(std::uint16_t(value(4 * h + 2 * r + 1))) << 16;
              }
            }
          }
          for (int i = 0; i < L::MMA_M; ++i) {
            if (INT8_A)
              mma_16832(acc[i][n], a_frag[i], b);
            else
              mma_16816(acc[i][n], a_frag[i], b);
          }
        }
      }
    }
    for (int i = 0; i < L::MMA_M; ++i)
      for (int n = 0; n < L::MMA_N; ++n)
        for (int lane = 0; lane < 32; ++lane)
          for (int e = 0; e < 4; ++e)
            y[(warp_m + 16 * i + L::acc_row(e, lane)) * C::BLOCK_N + warp_n + 8 * n +
              L::acc_col(e, lane)] = acc[i][n][lane][e];
  }
  for (int m = 0; m < C::BLOCK_M; ++m)
    for (int n = 0; n < C::BLOCK_N; ++n) {
      int ref = 0;
      for (int k = 0; k < C::BLOCK_K; ++k)
        ref += a[m * C::BLOCK_K + k] * q->int_value(n, k_tile * C::BLOCK_K + k);
      ASSERT_EQ(y[m * C::BLOCK_N + n], ref) << "element (" << m << ", " << n << ")";
    }
}

// The shipped w4a16 tiles and the group sizes' cases: groups spanning k-tiles, k-tiles holding
// several groups; with zero points and without; a k-tile other than the first.
TEST(CudaGemmLayout, Int4WarpsComputeTheExactTileProduct) {
  check_int4_layout<Config<128, 128, 32, 2, 2, 4, Code::fp16, Code::int4, 128, false>>(1);
  check_int4_layout<Config<64, 64, 64, 2, 2, 3, Code::fp16, Code::int4, 32, true>>(1);
  check_int4_layout<Config<16, 128, 128, 1, 4, 4, Code::bf16, Code::int4, 64, true>>(0);
  check_int4_layout<Config<32, 64, 64, 1, 2, 2, Code::fp16, Code::int4, 256, false>>(3);
}

// w4a8: the same words in the m16n8k32 order, widened to int8 for the s8 mma; its shipped tiles.
TEST(CudaGemmLayout, Int4ToInt8WarpsComputeTheExactTileProduct) {
  check_int4_layout<Config<128, 128, 64, 2, 4, 3, Code::int8, Code::int4, 128, false>>(1);
  check_int4_layout<Config<64, 64, 64, 2, 2, 3, Code::int8, Code::int4, 32, true>>(2);
  check_int4_layout<Config<16, 128, 128, 1, 4, 4, Code::int8, Code::int4, 64, true>>(0);
}

}  // namespace
