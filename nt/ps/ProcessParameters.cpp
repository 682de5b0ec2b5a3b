#include "nt/ps/ProcessParameters.h"

#include <cstring>

#include "nt/Status.h"
#include "nt/mm/Probe.h"
#include "nt/mm/UserSpace.h"

namespace ntbox::nt::ps {
namespace {

// RTL_USER_PROCESS_PARAMETERS (x64) fields.
constexpr std::uint32_t kAllocationSize = 0x00, kSize = 0x04, kFlags = 0x08, kConsoleHandle = 0x10;
constexpr std::uint32_t kConsoleFlags = 0x18, kStdInput = 0x20, kCurrentDirectory = 0x38, kDllPath = 0x50;
constexpr std::uint32_t kImagePathName = 0x60, kCommandLine = 0x70, kEnvironment = 0x80, kStartup = 0x88;
constexpr std::uint32_t kWindowTitle = 0xB0, kDesktop = 0xC0, kShellInfo = 0xD0, kRuntimeInfo = 0xE0;
constexpr std::uint32_t kEnvironmentSize = 0x3F0, kEnd = 0x410;
constexpr ULONG kNormalized = 1;  // PROCESS_PARAMS_FLAG_NORMALIZED: pointers, not offsets
constexpr std::uint64_t kMaxEnvironment = 1u << 20;

template <class T>
T Get(const std::uint8_t* block, std::uint32_t at) {
  T value;
  std::memcpy(&value, block + at, sizeof(T));
  return value;
}

template <class T>
void Put(std::uint64_t address, T value) {
  std::memcpy(reinterpret_cast<void*>(address), &value, sizeof(T));
}

}  // namespace

std::expected<ProcessParameters, NTSTATUS> CaptureProcessParameters(const void* parameters) {
  std::uint8_t block[kEnd];
  if (!parameters || !mm::ReadCaller(block, parameters, sizeof block)) return std::unexpected(STATUS_ACCESS_VIOLATION);
  // Not normalized: each pointer is an offset from the block's start.
  const std::uint64_t base = (Get<ULONG>(block, kFlags) & kNormalized) ? 0 : reinterpret_cast<std::uint64_t>(parameters);
  auto bytes = [&](std::uint32_t field, std::string& out) -> NTSTATUS {
    const auto length = Get<std::uint16_t>(block, field);
    const auto buffer = Get<std::uint64_t>(block, field + 8);
    out.assign(length, '\0');
    if (length == 0) return STATUS_SUCCESS;
    if (!buffer) return STATUS_INVALID_PARAMETER;
    return mm::ReadCaller(out.data(), reinterpret_cast<const void*>(buffer + base), length) ? STATUS_SUCCESS
                                                                                            : STATUS_ACCESS_VIOLATION;
  };
  auto text = [&](std::uint32_t field, std::u16string& out) -> NTSTATUS {
    std::string raw;
    if (const NTSTATUS s = bytes(field, raw); s != STATUS_SUCCESS) return s;
    out.assign(raw.size() / 2, u'\0');
    std::memcpy(out.data(), raw.data(), out.size() * 2);
    return STATUS_SUCCESS;
  };
  ProcessParameters p;
  for (const auto& [field, out] : {std::pair{kCurrentDirectory, &p.currentDirectory}, {kDllPath, &p.dllPath},
                                   {kImagePathName, &p.imagePath}, {kCommandLine, &p.commandLine},
                                   {kWindowTitle, &p.windowTitle}, {kDesktop, &p.desktop}, {kShellInfo, &p.shellInfo}}) {
    if (const NTSTATUS s = text(field, *out); s != STATUS_SUCCESS) return std::unexpected(s);
  }
  if (const NTSTATUS s = bytes(kRuntimeInfo, p.runtimeData); s != STATUS_SUCCESS) return std::unexpected(s);
  // The environment: its size when the creator says it, else up to its empty string.
  if (const auto environment = Get<std::uint64_t>(block, kEnvironment)) {
    const auto* at = reinterpret_cast<const char16_t*>(environment + base);
    std::uint64_t size = Get<std::uint64_t>(block, kEnvironmentSize) / 2;
    if (size > kMaxEnvironment) return std::unexpected(STATUS_INVALID_PARAMETER);
    std::u16string env;
    if (size) {
      env.assign(size, u'\0');
      if (!mm::ReadCaller(env.data(), at, size * 2)) return std::unexpected(STATUS_ACCESS_VIOLATION);
    } else {
      for (char16_t previous = u'x';; ++at) {
        const auto c = mm::ReadCaller(at);
        if (!c) return std::unexpected(STATUS_ACCESS_VIOLATION);
        env += *c;
        if (*c == 0 && previous == 0) break;
        if (env.size() > kMaxEnvironment) return std::unexpected(STATUS_INVALID_PARAMETER);
        previous = *c;
      }
    }
    // Only the strings up to the empty one count (a size may include a heap block's slack).
    std::size_t end = 0;
    while (end < env.size() && env[end] != 0) {
      const std::size_t nul = env.find(u'\0', end);
      end = nul == std::u16string::npos ? env.size() : nul + 1;
    }
    env.resize(end);
    env.push_back(u'\0');
    p.environment = std::move(env);
  }
  p.consoleHandle = Get<std::uint64_t>(block, kConsoleHandle);
  p.consoleFlags = Get<ULONG>(block, kConsoleFlags);
  for (int i = 0; i < 3; ++i) p.standardHandles[i] = Get<std::uint64_t>(block, kStdInput + 8u * i);
  for (int i = 0; i < 9; ++i) p.startup[i] = Get<ULONG>(block, kStartup + 4u * i);
  return p;
}

std::uint64_t WriteProcessParameters(mm::UserSpace& space, const ProcessParameters& p) {
  auto raw = [](const std::u16string& s) { return std::string(reinterpret_cast<const char*>(s.data()), s.size() * 2); };
  const std::pair<std::uint32_t, std::string> strings[] = {
      {kCurrentDirectory, raw(p.currentDirectory)}, {kDllPath, raw(p.dllPath)},   {kImagePathName, raw(p.imagePath)},
      {kCommandLine, raw(p.commandLine)},           {kWindowTitle, raw(p.windowTitle)}, {kDesktop, raw(p.desktop)},
      {kShellInfo, raw(p.shellInfo)},               {kRuntimeInfo, p.runtimeData}};
  std::u16string environment = p.environment;
  if (environment.size() < 2) environment = std::u16string(2, u'\0');  // an empty block
  std::uint64_t size = kEnd;
  for (const auto& [field, data] : strings) size += (data.size() + 2 + 1) & ~1ull;
  size = (size + 15) & ~15ull;
  const std::uint64_t environmentAt = size;
  size += environment.size() * 2;
  void* block = space.Allocate(size);
  if (!block) return 0;
  const auto params = reinterpret_cast<std::uint64_t>(block);
  Put<ULONG>(params + kAllocationSize, static_cast<ULONG>(size));
  Put<ULONG>(params + kSize, static_cast<ULONG>(size));
  Put<ULONG>(params + kFlags, kNormalized);
  std::uint64_t at = params + kEnd;
  for (const auto& [field, data] : strings) {
    const auto length = static_cast<std::uint16_t>(std::min<std::size_t>(data.size(), 0xFFFC));
    if (field == kDllPath && length == 0) continue;  // none at all: ntdll computes the search path
    Put<std::uint16_t>(params + field, length);                                   // Length
    Put<std::uint16_t>(params + field + 2, static_cast<std::uint16_t>(length + 2));  // MaximumLength
    Put<std::uint64_t>(params + field + 8, at);
    std::memcpy(reinterpret_cast<void*>(at), data.data(), length);
    at += (length + 2 + 1) & ~1ull;
  }
  std::memcpy(reinterpret_cast<void*>(params + environmentAt), environment.data(), environment.size() * 2);
  Put<std::uint64_t>(params + kEnvironment, params + environmentAt);
  Put<std::uint64_t>(params + kEnvironmentSize, environment.size() * 2);
  Put<std::uint64_t>(params + kConsoleHandle, p.consoleHandle);
  Put<ULONG>(params + kConsoleFlags, p.consoleFlags);
  for (int i = 0; i < 3; ++i) Put<std::uint64_t>(params + kStdInput + 8u * i, p.standardHandles[i]);
  for (int i = 0; i < 9; ++i) Put<ULONG>(params + kStartup + 4u * i, p.startup[i]);
  return params;
}

}  // namespace ntbox::nt::ps
