#include "bench/onednn_w8a8.hpp"

#include <omp.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "quant/activations.hpp"
#include "tuner/rotating_buffers.hpp"

namespace qk::bench {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

/// Splits rows [0, m) over `threads` OpenMP threads (oneDNN's own pool, so no extra threads).
template <class F>
void parallel_rows(std::int64_t m, int threads, const F& f) {
  if (m < 2 || threads < 2) {
    f(std::int64_t{0}, m);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    f(m * t / nt, m * (t + 1) / nt);
  }
}

struct OneDnnRun {
  std::int64_t m = 0, n = 0, k = 0;
  int threads = 1;
  Int8Storage storage = Int8Storage::u8_offset128;
  bool matmul_only = false;

  dnnl::engine engine;
  dnnl::stream stream;
  dnnl::matmul matmul;
  tuner::RotatingBuffer inputs;   // fp32 A [m, k]; or its codes when matmul_only
  tuner::RotatingBuffer weights;  // packed by oneDNN, one copy per set when rotated
  tuner::AlignedBuffer codes;     // u8/s8 [m, k], written by step 1 of every run
  tuner::AlignedBuffer a_scales;  // fp32 [m]
  tuner::AlignedBuffer dst;       // fp32 [m, n]
  dnnl::memory src_mem;
  std::vector<std::unordered_map<int, dnnl::memory>> args;  // one per weight copy

  void run(std::size_t i) {
    if (matmul_only) {
      src_mem.set_data_handle(inputs.set(i));
    } else {
      const float* a = inputs.set_as<float>(i);
      parallel_rows(m, threads, [&](std::int64_t r0, std::int64_t r1) {
        quantize_rows_per_token(a, k, r0, r1, storage, codes.as<std::uint8_t>(),
                                a_scales.as<float>());
      });
    }
    matmul.execute(stream, args[i % args.size()]);
    stream.wait();
    if (!matmul_only) {
      parallel_rows(m, threads, [&](std::int64_t r0, std::int64_t r1) {
        scale_rows(dst.as<float>(), n, a_scales.as<float>(), r0, r1);
      });
    }
  }
};

Error failure(const GemmShape& shape, std::string message) {
  return Error{Errc::unsupported, fmt::format("oneDNN {}", shape.str()), std::move(message)};
}

/// Checks rows 0 and m - 1 after run(0): the codes and scales bit for bit against
/// quant::quantize_activations, the output against the exact integer dot products scaled in the
/// order of numerics §6.2. Returns a description of the check, or an error.
Expected<std::string> check_output(const GemmShape& shape, const OneDnnRun& r, const float* a,
                                   const std::int8_t* w, const std::vector<float>& w_scales) {
  // The int8 code behind a stored byte: u8 holds code + 128, s8 the code's two's complement.
  const auto code_of = [u8 = r.storage == Int8Storage::u8_offset128](std::uint8_t stored) {
    return u8 ? static_cast<int>(stored) - 128 : static_cast<int>(static_cast<std::int8_t>(stored));
  };
  double max_rel = 0;
  std::vector<std::int64_t> rows = {0};
  if (shape.m > 1) rows.push_back(shape.m - 1);
  for (std::int64_t row : rows) {
    const std::uint8_t* codes = r.codes.as<std::uint8_t>() + row * shape.k;
    if (!r.matmul_only) {
      Expected<quant::QuantizedActivations> ref = quant::quantize_activations(
          std::span<const float>(a + row * shape.k, static_cast<std::size_t>(shape.k)), 1, shape.k,
          QuantType::int8, ActivationScaling::dynamic_per_token);
      if (!ref) return failure(shape, "reference quantization: " + ref.error().str());
      if (std::bit_cast<std::uint32_t>(ref->scales[0]) !=
          std::bit_cast<std::uint32_t>(r.a_scales.as<float>()[row])) {
        return failure(shape, fmt::format("activation scale of row {} is {}, the reference {}", row,
                                          r.a_scales.as<float>()[row], ref->scales[0]));
      }
      for (std::int64_t j = 0; j < shape.k; ++j) {
        const int want = static_cast<std::int8_t>(ref->codes[j]);
        if (code_of(codes[j]) != want) {
          return failure(shape, fmt::format("activation code [{}, {}] is {}, the reference {}", row,
                                            j, code_of(codes[j]), want));
        }
      }
    }
    const float a_scale = r.matmul_only ? 1.0f : r.a_scales.as<float>()[row];
    for (std::int64_t col = 0; col < shape.n; ++col) {
      std::int64_t acc = 0;
      const std::int8_t* wr = w + col * shape.k;
      for (std::int64_t j = 0; j < shape.k; ++j) acc += code_of(codes[j]) * wr[j];
      float want = static_cast<float>(acc) * w_scales[col];
      if (!r.matmul_only) want *= a_scale;
      const float got = r.dst.as<float>()[row * shape.n + col];
      const double rel = want == got ? 0.0 : std::abs(double{got} - want) / std::abs(double{want});
      // A few ulp: oneDNN may round the int32 -> fp32 conversion and the scale product its way.
      if (!(rel <= 5e-7)) {
        return failure(shape,
                       fmt::format("output [{}, {}] is {}, the reference {}", row, col, got, want));
      }
      max_rel = std::max(max_rel, rel);
    }
  }
  const std::string where = shape.m > 1 ? fmt::format("rows 0 and {}", shape.m - 1) : "row 0";
  return max_rel == 0
             ? fmt::format("{} bit-exact vs the integer reference", where)
             : fmt::format("{} within {:.1e} relative of the integer reference", where, max_rel);
}

Expected<PreparedRun> prepare(const GemmShape& shape, const OneDnnW8A8Options& options) {
  const CompetitorContext& ctx = options.context;
  auto r = std::make_shared<OneDnnRun>();
  r->m = shape.m;
  r->n = shape.n;
  r->k = shape.k;
  r->threads = ctx.threads;
  r->storage = options.storage;
  r->matmul_only = options.matmul_only;
  const auto mk = static_cast<std::size_t>(shape.m * shape.k);
  const auto nk = static_cast<std::size_t>(shape.n * shape.k);
  const auto mn = static_cast<std::size_t>(shape.m * shape.n);

  // The layer's data: fp32 activations, int8 weight codes [n, k] with per-channel scales.
  std::vector<float> a(mk);
  fill_uniform(a.data(), mk, 1);
  std::vector<std::int8_t> w(nk);
  fill_int8_codes(w.data(), nk, 2);
  std::vector<float> w_scales(static_cast<std::size_t>(shape.n));
  fill_uniform(w_scales.data(), w_scales.size(), 3);
  for (float& s : w_scales) s = (1.5f + s) * (1.0f / 256.0f);  // positive, around 0.006

  omp_set_num_threads(ctx.threads);  // oneDNN's CPU runtime is OpenMP
  r->engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
  r->stream = dnnl::stream(r->engine);
  const bool u8 = options.storage == Int8Storage::u8_offset128;
  const dnnl::memory::desc src_md({shape.m, shape.k}, u8 ? dt::u8 : dt::s8, tag::ab);
  const dnnl::memory::desc w_any_md({shape.k, shape.n}, dt::s8, tag::any);
  const dnnl::memory::desc dst_md({shape.m, shape.n}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  // Constant scales (known when the weights are loaded): with DNNL_RUNTIME_F32_VAL scales
  // oneDNN 2.6 leaves its brgemm kernels for the older gemm:jit path.
  attr.set_output_scales(1 << 1, w_scales);
  if (u8) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_any_md, dst_md), attr,
                                        r->engine);
  const std::string impl = pd.impl_info_str();
  if (impl.find("ref") != std::string::npos) {
    return failure(shape, fmt::format("oneDNN offers only its reference implementation \"{}\", "
                                      "not a baseline",
                                      impl));
  }
  r->matmul = dnnl::matmul(pd);

  // Weights: reordered once into oneDNN's layout, then copied per rotation set.
  const dnnl::memory::desc w_plain_md({shape.k, shape.n}, dt::s8, tag::ba);  // = [n, k] memory
  dnnl::memory w_plain(w_plain_md, r->engine, w.data());
  Expected<tuner::AlignedBuffer> packed =
      tuner::AlignedBuffer::allocate(pd.weights_desc().get_size());
  if (!packed) return packed.error();
  dnnl::memory w_packed(pd.weights_desc(), r->engine, packed->data());
  dnnl::reorder(w_plain, w_packed).execute(r->stream, w_plain, w_packed);
  r->stream.wait();

  const std::size_t input_bytes = options.matmul_only ? mk : mk * sizeof(float);
  const auto [rotate_weights, set_bytes, sets] = ctx.rotation(shape, input_bytes, packed->size());
  Expected<tuner::RotatingBuffer> weights = tuner::RotatingBuffer::create(
      std::span<const std::byte>(packed->data(), packed->size()), rotate_weights ? sets : 1);
  if (!weights) return weights.error();
  r->weights = std::move(*weights);

  auto allocate = [](std::size_t bytes, tuner::AlignedBuffer& out) -> Expected<void> {
    Expected<tuner::AlignedBuffer> b = tuner::AlignedBuffer::allocate(bytes);
    if (!b) return b.error();
    out = std::move(*b);
    return {};
  };
  for (auto [bytes, buffer] :
       {std::pair{mk, &r->codes}, std::pair{shape.m * sizeof(float), &r->a_scales},
        std::pair{mn * sizeof(float), &r->dst}}) {
    if (Expected<void> ok = allocate(bytes, *buffer); !ok) return ok.error();
  }
  if (options.matmul_only) {
    // The codes are the timed input: quantize once, outside the timing, then rotate them.
    quantize_rows_per_token(a.data(), shape.k, 0, shape.m, options.storage,
                            r->codes.as<std::uint8_t>(), r->a_scales.as<float>());
  }
  Expected<tuner::RotatingBuffer> inputs =
      options.matmul_only
          ? tuner::RotatingBuffer::create(std::span<const std::byte>(r->codes.data(), mk), sets)
          : tuner::RotatingBuffer::create(std::as_bytes(std::span<const float>(a)), sets);
  if (!inputs) return inputs.error();
  r->inputs = std::move(*inputs);

  r->src_mem = dnnl::memory(src_md, r->engine, r->codes.data());
  dnnl::memory dst_mem(dst_md, r->engine, r->dst.data());
  dnnl::memory zp_mem({{1}, dt::s32, tag::a}, r->engine);
  *static_cast<std::int32_t*>(zp_mem.get_data_handle()) = 128;  // u8 = code + 128
  for (std::size_t c = 0; c < r->weights.copies(); ++c) {
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, r->src_mem},
        {DNNL_ARG_WEIGHTS, dnnl::memory(pd.weights_desc(), r->engine, r->weights.set(c))},
        {DNNL_ARG_DST, dst_mem}};
    if (u8) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zp_mem;
    r->args.push_back(std::move(args));
  }

  r->run(0);  // with matmul_only it reads a copy of r->codes, which the check reads
  Expected<std::string> check = check_output(shape, *r, a.data(), w.data(), w_scales);
  if (!check) return check.error();

  PreparedRun prepared;
  prepared.implementation = fmt::format("{}, src {}", impl, u8 ? "u8 (zero point 128)" : "s8");
  prepared.check = std::move(*check);
  prepared.rotation_sets = sets;
  prepared.rotation_bytes = set_bytes;
  prepared.weight_bytes = nk;  // the int8 codes; the packed copy adds a few KiB of compensation
  prepared.run = [r](std::size_t i) { r->run(i); };
  return prepared;
}

}  // namespace

Expected<PreparedRun> prepare_onednn_w8a8(const GemmShape& shape,
                                          const OneDnnW8A8Options& options) {
  try {
    return prepare(shape, options);
  } catch (const dnnl::error& e) {
    return failure(shape,
                   fmt::format("oneDNN: {} (status {})", e.what(), static_cast<int>(e.status)));
  }
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("{}.{}.{} (CPU runtime {})", v->major, v->minor, v->patch,
                     v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
}

}  // namespace qk::bench
