// ntbox::testing over the in-process machine (machine::Machine): the test's thread is the machine's
// native client, so requests carry real user buffers and a stop is seen the moment it happens.
#include "ntbox/testing.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "machine/CrashReports.h"
#include "machine/Machine.h"
#include "machine/VerifierSettings.h"
#include "nt/kd/DebugPrint.h"

namespace ntbox::testing {

namespace fs = std::filesystem;

struct Device::State {
  Options options;
  Reporter report;
  fs::path dir;
  std::unique_ptr<machine::Machine> machine;
  int listener = 0;
  mutable std::mutex outputMutex;
  std::string output;
  std::vector<std::string> started;  // services the test started, in order
  std::vector<std::uint64_t> handles;  // devices the test has open
  std::optional<std::uint32_t> expectedStop;
  bool finished = false;

  void Fail(const std::string& message) const {
    if (report) report(message);
  }
  // The stop, said once with its report, when there was one the test did not expect.
  std::string StopText() const {
    const auto text = machine->crashReport();
    return text ? fmt::format("the machine stopped with {}\n{}", machine::CrashSummary(*text), *text) : std::string();
  }
};

namespace {

fs::path NewDirectory(std::string_view name) {
  const char* tmp = std::getenv("TMPDIR");
  std::string stem = std::string(tmp && *tmp ? tmp : "/tmp") + "/ntbox-test-";
  for (const char c : name) stem += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  stem += "-XXXXXX";
  if (!::mkdtemp(stem.data())) return {};
  return stem;
}

std::string Stem(const std::string& path) { return fs::path(path).stem().string(); }

}  // namespace

std::string Machine::File(std::string_view name) {
  const std::string text(name);
  if (text.find('/') != std::string::npos) return text;
  // "hello=/build/hello.sys:hello_app=/build/hello_app.exe" (as PATH: ':' between entries), from
  // ntbox_add_driver_test.
  if (const char* files = std::getenv("NTBOX_TEST_FILES")) {
    std::string_view list(files);
    while (!list.empty()) {
      const auto end = list.find(':');
      const std::string_view entry = list.substr(0, end);
      const auto eq = entry.find('=');
      if (eq != std::string_view::npos) {
        const std::string_view key = entry.substr(0, eq);
        const std::string_view value = entry.substr(eq + 1);
        if (key == name || fs::path(value).filename() == text) return std::string(value);
      }
      if (end == std::string_view::npos) break;
      list.remove_prefix(end + 1);
    }
  }
  return text;
}

Machine::Machine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Machine> Machine::Create(std::string_view name, const Options& options, Reporter report) {
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  impl->report = std::move(report);
  impl->dir = NewDirectory(name);
  if (impl->dir.empty()) {
    impl->Fail(fmt::format("cannot make the machine's directory: {}", std::strerror(errno)));
    return nullptr;
  }
  auto fail = [&](const std::string& message) -> std::unique_ptr<Machine> {
    impl->Fail(message);
    std::error_code ec;
    fs::remove_all(impl->dir, ec);
    return nullptr;
  };
  // The configuration the machine boots with, written offline (no kernel runs for it).
  {
    auto offline = machine::Machine::OpenOffline(impl->dir);
    if (!offline) return fail("cannot make the machine: " + offline.error().message);
    machine::BootConfig config;
    config.testSigning = true;
    auto stored = (*offline)->StoreBootConfig(config);
    if (stored && !options.verifier) stored = machine::ResetVerifierSettings((*offline)->registry());
    if (!stored) return fail("cannot configure the machine: " + stored.error().message);
  }
  auto booted = machine::Machine::Boot(impl->dir);
  if (!booted) return fail("the machine did not boot: " + booted.error().message);
  impl->machine = std::move(*booted);
  Impl* raw = impl.get();
  impl->listener = impl->machine->AddDebugListener([raw](const machine::LoggedRecord& r) {
    if (r.component == nt::kMarkerComponent) return;
    std::lock_guard lock(raw->outputMutex);
    raw->output += r.text;
    if (!r.text.empty() && r.text.back() != '\n') raw->output += '\n';
  });
  return std::unique_ptr<Machine>(new Machine(std::move(impl)));
}

Machine::~Machine() {
  Finish();
  impl_->machine->RemoveDebugListener(impl_->listener);
  impl_->machine.reset();
  std::error_code ec;
  fs::remove_all(impl_->dir, ec);
}

const fs::path& Machine::directory() const { return impl_->dir; }

bool Machine::StartDriver(std::string_view driver, std::string_view service) {
  const std::string path = File(driver);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    impl_->Fail(fmt::format("StartDriver: {}: no such driver (a path, or a target named in NTBOX_TEST_FILES)",
                            driver));
    return false;
  }
  machine::ServiceConfig config;
  config.name = service.empty() ? Stem(path) : std::string(service);
  config.imagePath = machine::Machine::ToImagePath(fs::absolute(path).string(), "/");
  if (auto created = impl_->machine->CreateService(config); !created) {
    impl_->Fail(fmt::format("StartDriver: cannot create the service {}: {}", config.name, created.error().message));
    return false;
  }
  auto started = impl_->machine->StartService(config.name);
  if (!started) {
    // A stop during DriverEntry is the report's to say (Finish), once.
    if (!impl_->machine->crashReport()) {
      impl_->Fail(fmt::format("StartDriver: {} did not start: {} (error {})", config.name, started.error().message,
                              started.error().win32));
    }
    return false;
  }
  impl_->started.push_back(config.name);
  return true;
}

bool Machine::StopDriver(std::string_view service) {
  auto stopped = impl_->machine->StopService(service);
  if (!stopped) {
    if (!impl_->machine->crashReport()) {
      impl_->Fail(fmt::format("StopDriver: {} did not stop: {} (error {})", service, stopped.error().message,
                              stopped.error().win32));
    }
    return false;
  }
  std::erase(impl_->started, std::string(service));
  return true;
}

Device Machine::Open(std::string_view name) {
  auto handle = impl_->machine->OpenDevice(name);
  if (!handle) {
    if (!impl_->machine->crashReport()) {
      impl_->Fail(fmt::format("Open: {}: {} (error {})", name, handle.error().message, handle.error().win32));
    }
    return {};
  }
  impl_->handles.push_back(static_cast<std::uint64_t>(*handle));
  return Device(impl_, static_cast<std::uint64_t>(*handle));
}

ProgramResult Machine::Run(std::string_view program, const std::vector<std::string>& args) {
  ProgramResult result;
  const std::string path = File(program);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.error = std::strerror(errno);
    return result;
  }
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  user::ProgramOptions options;
  options.hostPath = fs::absolute(path);
  options.name = options.hostPath.filename().string();
  options.args = args;
  options.currentDirectory = machine::Machine::Win32PathOf(fs::current_path());
  options.stdio = {in, fds[1], fds[1]};
  auto loaded = impl_->machine->LoadProgram(options);
  if (!loaded) {
    result.error = loaded.error().message;
    impl_->Fail(fmt::format("Run: {}: {}", program, result.error));
  } else {
    // The program runs on a thread of its own while this one empties the pipe (it may write more
    // than a pipe holds); its end is an eventfd, since the program's console may keep the pipe open.
    const int done = ::eventfd(0, EFD_CLOEXEC);
    user::ProgramExit exit;
    std::thread runner([&] {
      exit = (*loaded)->Run();
      const std::uint64_t one = 1;
      (void)!::write(done, &one, sizeof one);
    });
    char buffer[4096];
    bool ended = false, terminated = false;
    const auto deadline = std::chrono::steady_clock::now() + impl_->options.programTimeout;
    for (;;) {
      pollfd p[2] = {{fds[0], POLLIN, 0}, {done, POLLIN, 0}};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      // Once terminated, asked again every 20 ms: a program inside a DLL function ends when it returns.
      const int n = ::poll(p, 2, ended ? 0 : terminated ? 20 : static_cast<int>(std::max<std::int64_t>(0, left.count())));
      if (n <= 0) {
        if (ended) break;
        if (n == 0) {
          // The program's time is up: it ends as TerminateProcess would end it.
          if (!terminated) {
            impl_->Fail(fmt::format("Run: {} did not end in {} ms; it was terminated", program,
                                    impl_->options.programTimeout.count()));
          }
          terminated = true;
          (*loaded)->Terminate(1);
        }
        continue;
      }
      if (p[0].revents & (POLLIN | POLLHUP)) {
        const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n > 0) result.output.append(buffer, static_cast<std::size_t>(n));
        if (n <= 0 && ended) break;
      } else if (ended) {
        break;
      }
      if (p[1].revents & POLLIN) ended = true;
    }
    runner.join();
    ::close(done);
    result.ran = true;
    result.exitCode = exit.exitCode;
    if (!exit.description.empty()) result.error = exit.description;
  }
  ::close(fds[0]);
  ::close(fds[1]);
  if (in >= 0) ::close(in);
  return result;
}

std::span<std::uint8_t> Machine::UserMemory(std::size_t size) { return impl_->machine->AllocateUserBuffer(size); }

std::string Machine::DebugOutput() const {
  std::lock_guard lock(impl_->outputMutex);
  return impl_->output;
}

bool Machine::WaitIdle() {
  std::string pending;
  if (impl_->machine->WaitIdle(impl_->options.idleTimeout, &pending)) return true;
  impl_->Fail(fmt::format("the machine did not become idle in {} ms: {}", impl_->options.idleTimeout.count(), pending));
  return false;
}

std::optional<StopInfo> Machine::Stop() const {
  const auto text = impl_->machine->crashReport();
  if (!text) return std::nullopt;
  const auto facts = machine::ParseCrash(*text);
  return StopInfo{facts.code.value_or(0), facts.name, *text};
}

void Machine::ExpectStop(std::uint32_t code) { impl_->expectedStop = code; }

void Machine::Finish() {
  if (impl_->finished) return;
  impl_->finished = true;
  // What the test's requests set going (a DPC, a timer, a work item) finishes before the verdict.
  (void)WaitIdle();
  // Handles the test left open close as a process's do when it ends.
  for (const std::uint64_t h : impl_->handles) {
    if (!impl_->machine->crashReport()) (void)impl_->machine->CloseHandle(static_cast<machine::Handle>(h));
  }
  impl_->handles.clear();
  // Last started first (a filter before the driver below it); one that will not stop is reported.
  const std::vector<std::string> started(impl_->started.rbegin(), impl_->started.rend());
  for (const auto& service : started) {
    if (impl_->machine->crashReport()) break;
    (void)StopDriver(service);
  }
  const auto stop = Stop();
  if (impl_->expectedStop) {
    if (!stop) {
      impl_->Fail(fmt::format("expected the machine to stop with 0x{:08X}; it did not", *impl_->expectedStop));
    } else if (stop->code != *impl_->expectedStop) {
      impl_->Fail(fmt::format("expected the machine to stop with 0x{:08X}; {}", *impl_->expectedStop,
                              impl_->StopText()));
    }
  } else if (stop) {
    impl_->Fail(impl_->StopText());
  }
}

// ---- Device ---------------------------------------------------------------------------------------

Device::Device(Device&& other) noexcept : machine_(std::move(other.machine_)), handle_(other.handle_) {
  other.machine_.reset();
}

Device& Device::operator=(Device&& other) noexcept {
  if (this != &other) {
    Close();
    machine_ = std::move(other.machine_);
    handle_ = other.handle_;
    other.machine_.reset();
  }
  return *this;
}

Device::~Device() { Close(); }

void Device::Close() {
  const auto state = machine_.lock();
  machine_.reset();
  if (!state) return;
  // Closed already when the machine finished (the handle may be reused since).
  auto& handles = state->handles;
  if (const auto at = std::find(handles.begin(), handles.end(), handle_); at != handles.end()) {
    handles.erase(at);
    if (!state->machine->crashReport()) (void)state->machine->CloseHandle(static_cast<machine::Handle>(handle_));
  }
}

namespace {

IoResult From(const Result<machine::IoResult>& r, std::vector<std::uint8_t> output) {
  IoResult out;
  if (!r) {
    out.error = r.error().message;
    return out;
  }
  out.delivered = true;
  out.status = static_cast<std::uint32_t>(r->status);
  out.information = r->information;
  out.win32 = r->win32;
  out.output = std::move(output);
  return out;
}

}  // namespace

IoResult Device::Ioctl(std::uint32_t code, std::span<const std::uint8_t> input, std::uint32_t outputSize) {
  const auto state = machine_.lock();
  if (!state) return {false, "the device is not open"};
  std::vector<std::uint8_t> output;
  auto r = state->machine->DeviceIoControl(static_cast<machine::Handle>(handle_), code, input, output,
                                                     outputSize);
  return From(r, std::move(output));
}

IoResult Device::Ioctl(std::uint32_t code, std::string_view input, std::uint32_t outputSize) {
  return Ioctl(code, std::span(reinterpret_cast<const std::uint8_t*>(input.data()), input.size()), outputSize);
}

IoResult Device::IoctlRaw(std::uint32_t code, const void* in, std::uint32_t inLength, void* out,
                          std::uint32_t outLength) {
  const auto state = machine_.lock();
  if (!state) return {false, "the device is not open"};
  return From(state->machine->DeviceIoControl(static_cast<machine::Handle>(handle_), code, const_cast<void*>(in),
                                              inLength, out, outLength),
              {});
}

IoResult Device::Read(std::uint32_t length) {
  const auto state = machine_.lock();
  if (!state) return {false, "the device is not open"};
  auto& m = *state->machine;
  auto buffer = m.AllocateUserBuffer(length);
  auto r = m.ReadFile(static_cast<machine::Handle>(handle_), buffer.data(), length);
  std::vector<std::uint8_t> output;
  if (r) output.assign(buffer.begin(), buffer.begin() + std::min<std::uint64_t>(r->information, length));
  return From(r, std::move(output));
}

IoResult Device::Write(std::span<const std::uint8_t> data) {
  const auto state = machine_.lock();
  if (!state) return {false, "the device is not open"};
  auto& m = *state->machine;
  auto buffer = m.AllocateUserBuffer(data.size());
  std::copy(data.begin(), data.end(), buffer.begin());
  auto r = m.WriteFile(static_cast<machine::Handle>(handle_), buffer.data(), static_cast<std::uint32_t>(data.size()));
  return From(r, {});
}

IoResult Device::Write(std::string_view data) {
  return Write(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

}  // namespace ntbox::testing
