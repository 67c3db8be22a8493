#include "bench/gpu/cublaslt_w8a8.hpp"

#include <cublasLt.h>

#include <optional>

#include <fmt/format.h>

namespace qk::bench::gpu {
namespace {

constexpr int kQuantizeThreads = 256;  // one block per row: 8 warps stride K
constexpr int kDequantizeThreads = 256;
constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;  // cuBLASLt's recommended maximum

constexpr std::string_view kHelperSource = R"cuda(
#include "cuda/ptx.cuh"

// fp16/bf16 rows -> int8 codes, numerics §2-§3: the finite absmax per row (per token) or the
// given static scale; scale = max(amax / 127, FLT_MIN); inv = 1 / scale by one IEEE division;
// codes clamp(rne(x * inv), -127, 127), NaN -> 0. One block per row, 256 threads.
extern "C" __global__ void qk_bench_quantize(const unsigned short* a, int k, int bf16,
                                             int per_token, const float* static_scale,
                                             signed char* codes, float* scales) {
  const unsigned short* row = a + static_cast<long long>(blockIdx.x) * k;
  signed char* out = codes + static_cast<long long>(blockIdx.x) * k;
  __shared__ float warp_max[8];
  float scale = *static_scale;
  if (per_token) {
    float amax = 0.0f;
    for (int j = threadIdx.x; j < k; j += blockDim.x) {
      const float x = fabsf(bf16 ? qk::cuda::ptx::bf16_to_f32(row[j])
                                 : qk::cuda::ptx::f16_to_f32(row[j]));
      if (x <= 3.402823466e38f) amax = fmaxf(amax, x);  // NaN and Inf fail the compare
    }
    for (int lanes = 16; lanes > 0; lanes /= 2)
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, lanes));
    if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
    __syncthreads();
    amax = 0.0f;
    for (int w = 0; w < blockDim.x / 32; ++w) amax = fmaxf(amax, warp_max[w]);
    scale = fmaxf(__fdiv_rn(amax, 127.0f), 1.17549435e-38f);
  }
  const float inv = __fdiv_rn(1.0f, scale);
  for (int j = threadIdx.x; j < k; j += blockDim.x) {
    const float x = bf16 ? qk::cuda::ptx::bf16_to_f32(row[j]) : qk::cuda::ptx::f16_to_f32(row[j]);
    const float q = fminf(fmaxf(rintf(__fmul_rn(x, inv)), -127.0f), 127.0f);
    out[j] = x == x ? static_cast<signed char>(q) : 0;
  }
  if (threadIdx.x == 0) scales[blockIdx.x] = scale;
}

// int32 accumulators [m, n] -> fp16/bf16 outputs, §6.2 and §7 in the contract's order, each
// operation rounded on its own.
extern "C" __global__ void qk_bench_dequantize(const int* acc, long long count, int n,
                                               const float* w_scale, const float* a_scales,
                                               const float* bias, int out_bf16,
                                               unsigned short* y) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int col = static_cast<int>(i % n);
  float v = __fmul_rn(__fmul_rn(static_cast<float>(acc[i]), w_scale[col]), a_scales[i / n]);
  if (bias != nullptr) v = __fadd_rn(v, bias[col]);
  y[i] = out_bf16 ? qk::cuda::ptx::f32_to_bf16(v) : qk::cuda::ptx::f32_to_f16(v);
}
)cuda";

Error cublas_error(cublasStatus_t status, std::string_view what) {
  return Error{Errc::io_error, std::string(what),
               fmt::format("{} failed: {} ({})", what, cublasLtGetStatusString(status),
                           static_cast<int>(status))};
}

}  // namespace

std::string helper_kernels_source() {
  return std::string(kHelperSource);
}

Expected<runtime::CompiledCubin> compile_helper_kernels(const runtime::NvrtcCompiler& nvrtc,
                                                        codegen::CudaArch arch) {
  return nvrtc.compile(kHelperSource, "qk_bench_helpers", arch, "qk_bench_quantize");
}

struct CublasLtW8A8::Impl {
  const runtime::CudaDevice* device = nullptr;
  std::optional<runtime::CudaFunction> quantize, dequantize;
  cublasLtHandle_t handle = nullptr;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t w_layout = nullptr, a_layout = nullptr, acc_layout = nullptr;
  cublasLtMatmulAlgo_t algo{};
  std::optional<runtime::DeviceBuffer> codes, scales, acc, workspace;

  void release_layouts() {
    for (cublasLtMatrixLayout_t* l : {&w_layout, &a_layout, &acc_layout})
      if (*l != nullptr) (void)cublasLtMatrixLayoutDestroy(std::exchange(*l, nullptr));
  }
  ~Impl() {
    release_layouts();
    if (op != nullptr) (void)cublasLtMatmulDescDestroy(op);
    if (handle != nullptr) (void)cublasLtDestroy(handle);
  }
};

CublasLtW8A8::CublasLtW8A8(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CublasLtW8A8::~CublasLtW8A8() = default;

Expected<std::unique_ptr<CublasLtW8A8>> CublasLtW8A8::create(const runtime::CudaDevice& device,
                                                             const runtime::NvrtcCompiler& nvrtc) {
  auto impl = std::make_unique<Impl>();
  impl->device = &device;
  auto cubin = compile_helper_kernels(nvrtc, device.info().arch);
  if (!cubin) return cubin.error();
  auto quantize = runtime::CudaFunction::load(device, cubin->cubin, "qk_bench_quantize", 0);
  if (!quantize) return quantize.error();
  auto dequantize = runtime::CudaFunction::load(device, cubin->cubin, "qk_bench_dequantize", 0);
  if (!dequantize) return dequantize.error();
  impl->quantize.emplace(std::move(*quantize));
  impl->dequantize.emplace(std::move(*dequantize));
  if (auto s = cublasLtCreate(&impl->handle); s != CUBLAS_STATUS_SUCCESS)
    return cublas_error(s, "cublasLtCreate");
  if (auto s = cublasLtMatmulDescCreate(&impl->op, CUBLAS_COMPUTE_32I, CUDA_R_32I);
      s != CUBLAS_STATUS_SUCCESS)
    return cublas_error(s, "cublasLtMatmulDescCreate");
  // cuBLASLt is column-major: row-major Y[m, n] is the n x m matrix acc, row-major W[n, k] the
  // k x n matrix Wc and the codes [m, k] the k x m matrix Ac, so acc = Wcᵀ · Ac: A = Wc
  // transposed, B = Ac as it is, the "TN" form cuBLASLt's int8 tensor-core kernels take.
  const cublasOperation_t transpose = CUBLAS_OP_T, none = CUBLAS_OP_N;
  if (auto s = cublasLtMatmulDescSetAttribute(impl->op, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                              sizeof transpose);
      s != CUBLAS_STATUS_SUCCESS)
    return cublas_error(s, "cublasLtMatmulDescSetAttribute(TRANSA)");
  if (auto s =
          cublasLtMatmulDescSetAttribute(impl->op, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof none);
      s != CUBLAS_STATUS_SUCCESS)
    return cublas_error(s, "cublasLtMatmulDescSetAttribute(TRANSB)");
  auto workspace = runtime::DeviceBuffer::allocate(device, kWorkspaceBytes);
  if (!workspace) return workspace.error();
  impl->workspace.emplace(std::move(*workspace));
  return std::unique_ptr<CublasLtW8A8>(new CublasLtW8A8(std::move(impl)));
}

Expected<void> CublasLtW8A8::prepare(const HostProblem& p) {
  Impl& s = *impl_;
  const std::uint64_t m = p.m, n = p.layer.n, k = p.layer.k;
  s.release_layouts();
  const struct {
    cublasLtMatrixLayout_t* layout;
    cudaDataType type;
    std::uint64_t rows, cols;
    const char* what;
  } layouts[] = {{&s.w_layout, CUDA_R_8I, k, n, "weights"},
                 {&s.a_layout, CUDA_R_8I, k, m, "activation codes"},
                 {&s.acc_layout, CUDA_R_32I, n, m, "accumulators"}};
  for (const auto& l : layouts)
    if (auto st = cublasLtMatrixLayoutCreate(l.layout, l.type, l.rows, l.cols,
                                             static_cast<std::int64_t>(l.rows));
        st != CUBLAS_STATUS_SUCCESS)
      return cublas_error(st, fmt::format("cublasLtMatrixLayoutCreate ({})", l.what));

  cublasLtMatmulPreference_t preference = nullptr;
  if (auto st = cublasLtMatmulPreferenceCreate(&preference); st != CUBLAS_STATUS_SUCCESS)
    return cublas_error(st, "cublasLtMatmulPreferenceCreate");
  const std::size_t workspace = kWorkspaceBytes;
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace);
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmulAlgoGetHeuristic(s.handle, s.op, s.w_layout, s.a_layout, s.acc_layout,
                                        s.acc_layout, preference, 1, &result, &found);
  (void)cublasLtMatmulPreferenceDestroy(preference);
  if (st != CUBLAS_STATUS_SUCCESS) return cublas_error(st, "cublasLtMatmulAlgoGetHeuristic");
  if (found == 0)
    return Error{Errc::unsupported, fmt::format("{}x{}x{}", m, n, k),
                 "cuBLASLt has no int8 algorithm for this shape (its int8 kernels need n and k "
                 "multiples of 4)"};
  s.algo = result.algo;

  auto codes = runtime::DeviceBuffer::allocate(*s.device, m * k);
  if (!codes) return codes.error();
  auto scales = runtime::DeviceBuffer::allocate(*s.device, m * sizeof(float));
  if (!scales) return scales.error();
  auto acc = runtime::DeviceBuffer::allocate(*s.device, m * n * sizeof(std::int32_t));
  if (!acc) return acc.error();
  s.codes.emplace(std::move(*codes));
  s.scales.emplace(std::move(*scales));
  s.acc.emplace(std::move(*acc));
  return {};
}

Expected<void> CublasLtW8A8::run(const DeviceOperands& ops, const HostProblem& p) const {
  const Impl& s = *impl_;
  const void* a = ops.a.get();
  int k = static_cast<int>(p.layer.k);
  int bf16_in = p.layer.input_dtype == QuantType::bf16;
  int per_token = p.layer.activation_scaling == ActivationScaling::dynamic_per_token;
  const void* static_scale = ops.a_scale.get();
  void* codes = s.codes->get();
  void* scales = s.scales->get();
  void* quantize_params[] = {&a, &k, &bf16_in, &per_token, &static_scale, &codes, &scales};
  const runtime::CudaLaunchGeometry rows{static_cast<unsigned>(p.m), 1, kQuantizeThreads, 0};
  if (auto ok = s.quantize->launch_with(rows, quantize_params); !ok) return ok;

  const std::int32_t alpha = 1, beta = 0;
  if (auto st = cublasLtMatmul(s.handle, s.op, &alpha, ops.w.get(), s.w_layout, codes, s.a_layout,
                               &beta, s.acc->get(), s.acc_layout, s.acc->get(), s.acc_layout,
                               &s.algo, s.workspace->get(), kWorkspaceBytes, nullptr);
      st != CUBLAS_STATUS_SUCCESS)
    return cublas_error(st, "cublasLtMatmul");

  const void* acc = s.acc->get();
  long long count = p.m * p.layer.n;
  int n = static_cast<int>(p.layer.n);
  const void* w_scale = ops.w_scale.get();
  const void* bias = p.layer.epilogue.bias ? ops.bias.get() : nullptr;
  int bf16_out = p.layer.epilogue.output == QuantType::bf16;
  void* y = ops.y.get();
  void* dequantize_params[] = {&acc, &count, &n, &w_scale, &scales, &bias, &bf16_out, &y};
  const runtime::CudaLaunchGeometry elements{
      static_cast<unsigned>((count + kDequantizeThreads - 1) / kDequantizeThreads), 1,
      kDequantizeThreads, 0};
  return s.dequantize->launch_with(elements, dequantize_params);
}

}  // namespace qk::bench::gpu
