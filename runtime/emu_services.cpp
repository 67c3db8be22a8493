// The functions of templates/emu/abi.h: each acts for the CUDA thread running on this OS thread's
// BlockRunner. The warp collectives are done once for all 32 lanes, by the last lane to arrive.
#include "runtime/emu_services.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "runtime/emu_block.hpp"
#include "runtime/emu_tensor_core.hpp"

namespace qk::runtime::emu {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;

BlockRunner& runner() {
  BlockRunner* r = BlockRunner::current();
  if (r == nullptr) {
    std::fputs("qk: a cuda-emu service was called outside a cuda-emu launch\n", stderr);
    std::abort();
  }
  return *r;
}

template <class T>
const T& input(const Lanes<const void*>& inputs, int lane) {
  return *static_cast<const T*>(inputs[lane]);
}

/// cuda-emu runs warps whole (every block is whole warps, and no kernel of qk diverges at a
/// collective): a partial mask is a kernel qk does not write, reported rather than guessed at.
std::string check_full_masks(const Lanes<const void*>& inputs, unsigned (*mask_of)(const void*)) {
  for (int lane = 0; lane < kWarpSize; ++lane)
    if (unsigned mask = mask_of(inputs[lane]); mask != kFullMask)
      return fmt::format("lane {} passed the mask {:#x}; cuda-emu supports full warps only "
                         "(0xffffffff)",
                         lane, mask);
  return {};
}

struct ShuffleInput {
  unsigned mask, value;
  int mode, lane_arg, width;
};

std::string shuffle(const Lanes<const void*>& inputs, const Lanes<void*>& outputs,
                    std::span<std::uint8_t>) {
  if (auto e = check_full_masks(inputs, [](const void* p) {
        return static_cast<const ShuffleInput*>(p)->mask;
      });
      !e.empty())
    return e;
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const ShuffleInput& in = input<ShuffleInput>(inputs, lane);
    const int width = in.width;
    if (width < 1 || width > kWarpSize || (width & (width - 1)) != 0)
      return fmt::format("lane {}: width {} must be a power of two in [1, 32]", lane, width);
    const int first = lane / width * width, end = first + width;  // the lane's segment
    int source = lane;
    switch (in.mode) {
      case QK_EMU_SHFL_IDX:
        source = first + (in.lane_arg % width + width) % width;
        break;
      case QK_EMU_SHFL_UP:
        source = lane - in.lane_arg >= first ? lane - in.lane_arg : lane;
        break;
      case QK_EMU_SHFL_DOWN:
        source = lane + in.lane_arg < end ? lane + in.lane_arg : lane;
        break;
      case QK_EMU_SHFL_XOR:
        source = (lane ^ in.lane_arg) < end ? lane ^ in.lane_arg : lane;
        break;
      default:
        return fmt::format("lane {}: unknown shuffle mode {}", lane, in.mode);
    }
    *static_cast<unsigned*>(outputs[lane]) = input<ShuffleInput>(inputs, source).value;
  }
  return {};
}

struct BallotInput {
  unsigned mask;
  int predicate;
};

std::string ballot(const Lanes<const void*>& inputs, const Lanes<void*>& outputs,
                   std::span<std::uint8_t>) {
  if (auto e = check_full_masks(inputs, [](const void* p) {
        return static_cast<const BallotInput*>(p)->mask;
      });
      !e.empty())
    return e;
  unsigned bits = 0;
  for (int lane = 0; lane < kWarpSize; ++lane)
    if (input<BallotInput>(inputs, lane).predicate) bits |= 1u << lane;
  for (int lane = 0; lane < kWarpSize; ++lane) *static_cast<unsigned*>(outputs[lane]) = bits;
  return {};
}

struct LdmatrixInput {
  unsigned address;
  int count, transpose;
};

std::string load_matrices(const Lanes<const void*>& inputs, const Lanes<void*>& outputs,
                          std::span<std::uint8_t> shared) {
  const LdmatrixInput& first = input<LdmatrixInput>(inputs, 0);
  Lanes<std::uint32_t> addresses{};
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const LdmatrixInput& in = input<LdmatrixInput>(inputs, lane);
    if (in.count != first.count || in.transpose != first.transpose)
      return fmt::format("lane {} asks for .x{}{} and lane 0 for .x{}{}", lane, in.count,
                         in.transpose ? ".trans" : "", first.count, first.transpose ? ".trans" : "");
    addresses[lane] = in.address;
  }
  Lanes<Words4> registers{};
  if (auto loaded = ldmatrix(shared, addresses, first.count, first.transpose != 0, registers);
      !loaded)
    return loaded.error().where + ": " + loaded.error().message;
  for (int lane = 0; lane < kWarpSize; ++lane)
    std::memcpy(outputs[lane], registers[lane].data(), 4 * static_cast<std::size_t>(first.count));
  return {};
}

struct MmaInput {
  int shape;
  const unsigned* a;
  const unsigned* b;
  const void* c;
};

std::string multiply(const Lanes<const void*>& inputs, const Lanes<void*>& outputs,
                     std::span<std::uint8_t>) {
  const int shape = input<MmaInput>(inputs, 0).shape;
  for (int lane = 0; lane < kWarpSize; ++lane)
    if (input<MmaInput>(inputs, lane).shape != shape)
      return fmt::format("lane {} runs mma shape {}, lane 0 shape {}", lane,
                         input<MmaInput>(inputs, lane).shape, shape);
  // Every shape has 4 A words, 2 B words and 4 accumulators of 4 bytes.
  Lanes<Words4> a{};
  Lanes<Words2> b{};
  Lanes<Words4> c{}, d{};
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const MmaInput& in = input<MmaInput>(inputs, lane);
    std::memcpy(a[lane].data(), in.a, sizeof(Words4));
    std::memcpy(b[lane].data(), in.b, sizeof(Words2));
    std::memcpy(c[lane].data(), in.c, sizeof(Words4));
  }
  // The accumulators as the shape's type (same bytes, as the registers hold them).
  auto as = [](auto& words, auto& typed) { std::memcpy(&typed, &words, sizeof typed); };
  if (shape == QK_EMU_MMA_M16N8K32_S8_S32) {
    Lanes<Ints4> ci{}, di{};
    as(c, ci);
    mma_m16n8k32_s8(a, b, ci, di);
    as(di, d);
  } else {
    static constexpr struct {
      int shape;
      MmaFloat a, b;
    } kFloatShapes[] = {
        {QK_EMU_MMA_M16N8K16_F16_F32, MmaFloat::f16, MmaFloat::f16},
        {QK_EMU_MMA_M16N8K16_BF16_F32, MmaFloat::bf16, MmaFloat::bf16},
        {QK_EMU_MMA_M16N8K32_E4M3_E4M3_F32, MmaFloat::e4m3, MmaFloat::e4m3},
        {QK_EMU_MMA_M16N8K32_E5M2_E4M3_F32, MmaFloat::e5m2, MmaFloat::e4m3},
        {QK_EMU_MMA_M16N8K32_E4M3_E5M2_F32, MmaFloat::e4m3, MmaFloat::e5m2},
        {QK_EMU_MMA_M16N8K32_E5M2_E5M2_F32, MmaFloat::e5m2, MmaFloat::e5m2},
    };
    const auto* f = std::find_if(std::begin(kFloatShapes), std::end(kFloatShapes),
                                 [&](const auto& s) { return s.shape == shape; });
    if (f == std::end(kFloatShapes)) return fmt::format("unknown mma shape {}", shape);
    Lanes<Floats4> cf{}, df{};
    as(c, cf);
    if (f->a == MmaFloat::f16 || f->a == MmaFloat::bf16)
      mma_m16n8k16_float(f->a, a, b, cf, df);
    else
      mma_m16n8k32_fp8(f->a, f->b, a, b, cf, df);
    as(df, d);
  }
  for (int lane = 0; lane < kWarpSize; ++lane)
    std::memcpy(outputs[lane], d[lane].data(), sizeof(Words4));
  return {};
}

}  // namespace
}  // namespace qk::runtime::emu

using qk::runtime::emu::runner;

extern "C" {

const QkEmuThread* qk_emu_thread(void) {
  return &runner().thread();
}

void qk_emu_sync_block(void) {
  runner().sync_block();
}

unsigned qk_emu_shfl(unsigned mask, unsigned value, int mode, int lane_arg, int width) {
  const qk::runtime::emu::ShuffleInput in{mask, value, mode, lane_arg, width};
  unsigned out = 0;
  runner().warp_collective("__shfl_*_sync", &in, &out, qk::runtime::emu::shuffle);
  return out;
}

unsigned qk_emu_ballot(unsigned mask, int predicate) {
  const qk::runtime::emu::BallotInput in{mask, predicate};
  unsigned out = 0;
  runner().warp_collective("__ballot_sync", &in, &out, qk::runtime::emu::ballot);
  return out;
}

void qk_emu_ldmatrix(unsigned address, int count, int transpose, unsigned* registers) {
  const qk::runtime::emu::LdmatrixInput in{address, count, transpose};
  runner().warp_collective("ldmatrix", &in, registers, qk::runtime::emu::load_matrices);
}

void qk_emu_mma(int shape, const unsigned* a, const unsigned* b, const void* c, void* d) {
  const qk::runtime::emu::MmaInput in{shape, a, b, c};
  runner().warp_collective("mma.sync", &in, d, qk::runtime::emu::multiply);
}

void qk_emu_cp_async(unsigned shared, const void* global, int size, int src_size) {
  runner().cp_async(shared, global, size, src_size);
}

void qk_emu_cp_async_commit(void) {
  runner().cp_async_commit();
}

void qk_emu_cp_async_wait(int pending) {
  runner().cp_async_wait(pending);
}

void qk_emu_fail(const char* message) {
  runner().fail(message);
}

}  // extern "C"

namespace qk::runtime::emu {

std::span<const HostSymbol> service_symbols() {
  static const HostSymbol symbols[] = {
      {"qk_emu_thread", reinterpret_cast<void*>(&qk_emu_thread)},
      {"qk_emu_sync_block", reinterpret_cast<void*>(&qk_emu_sync_block)},
      {"qk_emu_shfl", reinterpret_cast<void*>(&qk_emu_shfl)},
      {"qk_emu_ballot", reinterpret_cast<void*>(&qk_emu_ballot)},
      {"qk_emu_ldmatrix", reinterpret_cast<void*>(&qk_emu_ldmatrix)},
      {"qk_emu_mma", reinterpret_cast<void*>(&qk_emu_mma)},
      {"qk_emu_cp_async", reinterpret_cast<void*>(&qk_emu_cp_async)},
      {"qk_emu_cp_async_commit", reinterpret_cast<void*>(&qk_emu_cp_async_commit)},
      {"qk_emu_cp_async_wait", reinterpret_cast<void*>(&qk_emu_cp_async_wait)},
      {"qk_emu_fail", reinterpret_cast<void*>(&qk_emu_fail)},
  };
  return symbols;
}

}  // namespace qk::runtime::emu
