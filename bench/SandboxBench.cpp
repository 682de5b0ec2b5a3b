// What the sandbox costs (machine/Sandbox.h): the same work in a process left unconfined and in
// one confined as the machine server confines itself, alternately, each in a child of its own
// (confinement is irreversible and must precede the machine's threads). Prints, per mode, the time
// of a service start and stop (sc start + sc stop of bench_driver.sys, verifier off) and native
// IOCTL round trips per second, then the confined/unconfined ratios of the medians.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "machine/Machine.h"
#include "machine/Sandbox.h"
#include "machine/VerifierSettings.h"
#include "nt/support/SymbolHelper.h"

namespace {

namespace fs = std::filesystem;
using namespace ntbox::machine;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kEcho = (0x22u << 16) | (0x800u << 2);
constexpr int kStarts = 20;
constexpr long kIoctls = 500'000;

struct Figures {
  double startStopUs = 0;
  double ioctlsPerSecond = 0;
};

// In the child: prepare the machine (unconfined), confine when asked, then measure.
bool Measure(const fs::path& dir, bool confine, Figures& out) {
  fs::remove_all(dir);
  {
    auto m = Machine::Boot(dir);
    if (!m) return false;
    (void)(*m)->StoreBootConfig(BootConfig{true, false});
    (void)ResetVerifierSettings((*m)->registry());
    ServiceConfig config;
    config.name = "bench";
    config.imagePath = Machine::ToImagePath(NTBOX_DRIVER_DIR "/bench_driver.sys", "/");
    (void)(*m)->CreateService(config);
  }
  if (confine && !ConfineProcess({{dir}, {ntbox::nt::SymbolHelperPath()}, ntbox::nt::SymbolHelperEnvironment(), false})) {
    return false;
  }
  auto m = Machine::Boot(dir);
  if (!m) return false;
  Machine& machine = **m;
  const auto begin = Clock::now();
  for (int i = 0; i < kStarts; ++i) {
    if (!machine.StartService("bench") || !machine.StopService("bench")) return false;
  }
  out.startStopUs = std::chrono::duration<double, std::micro>(Clock::now() - begin).count() / kStarts;
  if (!machine.StartService("bench")) return false;
  auto handle = machine.OpenDevice("\\\\.\\NtboxBench");
  if (!handle) return false;
  auto in = machine.AllocateUserBuffer(64);
  auto outBuffer = machine.AllocateUserBuffer(64);
  const auto ioctlBegin = Clock::now();
  for (long i = 0; i < kIoctls; ++i) {
    auto r = machine.DeviceIoControl(*handle, kEcho, in.data(), 64, outBuffer.data(), 64);
    if (!r || r->information != 64) return false;
  }
  out.ioctlsPerSecond = kIoctls / std::chrono::duration<double>(Clock::now() - ioctlBegin).count();
  (void)machine.CloseHandle(*handle);
  return true;
}

bool RunChild(bool confine, Figures& figures) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const fs::path dir = fs::temp_directory_path() / ("ntbox_bench_sandbox_" + std::to_string(::getpid()));
    Figures f;
    const bool ok = Measure(dir, confine, f);
    if (ok) (void)!::write(fds[1], &f, sizeof f);
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  const bool ok = ::read(fds[0], &figures, sizeof figures) == static_cast<ssize_t>(sizeof figures);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  std::vector<double> start[2], ioctl[2];
  for (int round = 0; round < 3; ++round) {
    for (const bool confine : {false, true}) {
      Figures f;
      if (!RunChild(confine, f)) {
        std::fprintf(stderr, "ntbox_bench_sandbox: a %s run failed\n", confine ? "confined" : "unconfined");
        return 1;
      }
      std::printf("%-11s sc start + stop %8.1f us   native IOCTL %10.0f calls/s\n", confine ? "confined" : "unconfined",
                  f.startStopUs, f.ioctlsPerSecond);
      start[confine].push_back(f.startStopUs);
      ioctl[confine].push_back(f.ioctlsPerSecond);
    }
  }
  std::printf("confined/unconfined (medians): sc start + stop time %.3f, IOCTL rate %.3f\n",
              Median(start[1]) / Median(start[0]), Median(ioctl[1]) / Median(ioctl[0]));
  return 0;
}
