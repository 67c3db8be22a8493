#include "runtime/nvrtc_compiler.hpp"

#include <chrono>
#include <regex>

#include <fmt/format.h>
#include <nvrtc.h>
#include <xxhash.h>

#include "templates/embedded.hpp"

namespace qk::runtime {
namespace {

// Destroys the program on every path out of compile().
struct ProgramGuard {
  nvrtcProgram program = nullptr;
  ~ProgramGuard() {
    if (program) nvrtcDestroyProgram(&program);
  }
};

std::string program_log(nvrtcProgram program) {
  std::size_t size = 0;
  if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size == 0) return {};
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS) return {};
  log.resize(size - 1);  // the terminating NUL
  return log;
}

}  // namespace

struct NvrtcCompiler::Impl {
  NvrtcConfig config;
};

NvrtcCompiler::NvrtcCompiler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NvrtcCompiler::~NvrtcCompiler() = default;

Expected<std::unique_ptr<NvrtcCompiler>> NvrtcCompiler::create(NvrtcConfig config) {
  for (const NvrtcHeader& h : config.headers)
    if (h.name.empty())
      return Error{Errc::invalid_argument, "NvrtcConfig.headers", "a header has no name"};
  return std::unique_ptr<NvrtcCompiler>(new NvrtcCompiler(std::make_unique<Impl>(Impl{config})));
}

std::vector<std::string> NvrtcCompiler::options(codegen::CudaArch arch) const {
  std::vector<std::string> opts{fmt::format("--gpu-architecture={}", to_string(arch)), "-std=c++17",
                                "--ptxas-options=-v"};
  opts.insert(opts.end(), impl_->config.extra_options.begin(), impl_->config.extra_options.end());
  return opts;
}

std::string NvrtcCompiler::version() const {
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  return fmt::format("nvrtc {}.{}", major, minor);
}

std::string NvrtcCompiler::flags_key() const {
  std::string headers;
  for (const NvrtcHeader& h : impl_->config.headers) headers += h.name + '\n' + h.contents + '\n';
  std::string key = fmt::format("headers={:016x}", XXH3_64bits(headers.data(), headers.size()));
  for (const std::string& o : options(codegen::CudaArch::sm_80))
    if (!o.starts_with("--gpu-architecture=")) key += ' ' + o;
  return key;
}

Expected<CompiledCubin> NvrtcCompiler::compile(std::string_view source, std::string_view name,
                                               codegen::CudaArch arch,
                                               std::string_view name_expression,
                                               std::span<const std::string> companions) const {
  const std::vector<std::string> opts = options(arch);
  std::string all_options;
  for (const std::string& o : opts) all_options += (all_options.empty() ? "" : " ") + o;
  auto fail = [&](Errc code, std::string what, std::string_view log) {
    return Error{code, std::string(name),
                 fmt::format("{} (NVRTC {}, options: {})\n{}", what, version(), all_options, log)};
  };

  const std::string src(source), file_name = std::string(name) + ".cu";
  std::vector<const char*> header_texts, header_names;
  for (const NvrtcHeader& h : impl_->config.headers) {
    header_texts.push_back(h.contents.c_str());
    header_names.push_back(h.name.c_str());
  }
  ProgramGuard guard;
  nvrtcResult r = nvrtcCreateProgram(&guard.program, src.c_str(), file_name.c_str(),
                                     static_cast<int>(header_texts.size()), header_texts.data(),
                                     header_names.data());
  if (r != NVRTC_SUCCESS)
    return fail(Errc::compile_error, fmt::format("nvrtcCreateProgram: {}", nvrtcGetErrorString(r)),
                "");
  const std::string expression(name_expression);
  std::vector<std::string> expressions{expression};
  expressions.insert(expressions.end(), companions.begin(), companions.end());
  for (const std::string& e : expressions)
    if ((r = nvrtcAddNameExpression(guard.program, e.c_str())) != NVRTC_SUCCESS)
      return fail(Errc::compile_error,
                  fmt::format("nvrtcAddNameExpression({}): {}", e, nvrtcGetErrorString(r)), "");

  std::vector<const char*> argv;
  for (const std::string& o : opts) argv.push_back(o.c_str());
  const auto start = std::chrono::steady_clock::now();
  r = nvrtcCompileProgram(guard.program, static_cast<int>(argv.size()), argv.data());
  const auto stop = std::chrono::steady_clock::now();
  CompiledCubin out;
  out.log = program_log(guard.program);
  out.compile_ms = std::chrono::duration<double, std::milli>(stop - start).count();
  if (r != NVRTC_SUCCESS)
    return fail(Errc::compile_error, fmt::format("NVRTC failed: {}", nvrtcGetErrorString(r)),
                out.log);

  std::vector<std::string> lowered_names;
  for (const std::string& e : expressions) {
    const char* lowered = nullptr;
    if ((r = nvrtcGetLoweredName(guard.program, e.c_str(), &lowered)) != NVRTC_SUCCESS)
      return fail(Errc::compile_error,
                  fmt::format("nvrtcGetLoweredName({}): {}", e, nvrtcGetErrorString(r)), out.log);
    lowered_names.push_back(lowered);
  }
  out.lowered_name = lowered_names.front();

  std::size_t size = 0;
  if ((r = nvrtcGetCUBINSize(guard.program, &size)) != NVRTC_SUCCESS || size == 0)
    return fail(Errc::compile_error, fmt::format("no cubin: {}", nvrtcGetErrorString(r)), out.log);
  out.cubin.resize(size);
  if ((r = nvrtcGetCUBIN(guard.program, reinterpret_cast<char*>(out.cubin.data()))) !=
      NVRTC_SUCCESS)
    return fail(Errc::compile_error, fmt::format("nvrtcGetCUBIN: {}", nvrtcGetErrorString(r)),
                out.log);

  auto resources = parse_ptxas_info(out.log, out.lowered_name);
  if (!resources) return Error{Errc::parse_error, std::string(name), resources.error().message};
  out.resources = *resources;
  for (std::size_t i = 1; i < lowered_names.size(); ++i) {
    auto companion = parse_ptxas_info(out.log, lowered_names[i]);
    if (!companion) return Error{Errc::parse_error, std::string(name), companion.error().message};
    out.companions.push_back({lowered_names[i], *companion});
  }
  return out;
}

Expected<CudaResources> parse_ptxas_info(std::string_view log, std::string_view mangled_name) {
  // ptxas prints, per entry function:
  //   ptxas info    : Compiling entry function '<mangled>' for 'sm_80'
  //   ptxas info    : Function properties for <mangled>
  //   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  //   ptxas info    : Used 218 registers, used 1 barriers, 96 bytes smem, 416 bytes cmem[0]
  const std::string text(log);
  const std::size_t begin = text.find(fmt::format("Compiling entry function '{}'", mangled_name));
  if (begin == std::string::npos)
    return Error{Errc::parse_error, "ptxas log",
                 fmt::format("no entry function {} in:\n{}", mangled_name, text)};
  std::size_t end = text.find("Compiling entry function", begin + 1);
  const std::string entry = text.substr(begin, end == std::string::npos ? end : end - begin);

  CudaResources res;
  std::smatch m;
  static const std::regex frame(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex used(R"(Used (\d+) registers)");
  if (!std::regex_search(entry, m, frame))
    return Error{Errc::parse_error, "ptxas log",
                 fmt::format("no stack frame line for {} in:\n{}", mangled_name, entry)};
  res.stack_bytes = std::stoi(m[1]);
  res.spill_store_bytes = std::stoi(m[2]);
  res.spill_load_bytes = std::stoi(m[3]);
  if (!std::regex_search(entry, m, used))
    return Error{Errc::parse_error, "ptxas log",
                 fmt::format("no register count for {} in:\n{}", mangled_name, entry)};
  res.registers = std::stoi(m[1]);
  static const std::regex barriers(R"(used (\d+) barriers)");
  if (std::regex_search(entry, m, barriers)) res.barriers = std::stoi(m[1]);
  static const std::regex smem(R"((\d+) bytes smem)");
  if (std::regex_search(entry, m, smem)) res.static_smem_bytes = std::stoi(m[1]);
  return res;
}

NvrtcConfig cuda_template_config() {
  NvrtcConfig config;
  for (const templates::TemplateFile& f : templates::files())
    if (f.path.starts_with("cuda/"))
      config.headers.push_back({std::string(f.path), std::string(f.text)});
  return config;
}

}  // namespace qk::runtime
