// ntbox::testing: GoogleTest for Windows drivers. Each test gets a machine of its own (a temporary
// directory, test signing on, Driver Verifier's standard checks on every driver), starts the drivers
// it names as services, opens their devices and sends IOCTLs from a process of the machine (real user
// buffers, as an app's), runs programs and reads the debug output. At the end of the test the kit
// waits until the machine is idle, stops every driver it started (the verifier's unload checks: pool
// leaks, timers, DPCs, work items, threads) and turns every bugcheck or verifier stop into a failure
// carrying the report, unless the test said it expects that stop.
//
//   #include <ntbox/testing.h>
//   class MyDrv : public ntbox::testing::Test {};
//   TEST_F(MyDrv, Reverses) {
//     ASSERT_TRUE(machine().StartDriver("mydrv"));
//     auto device = machine().Open("\\\\.\\MyDrv");
//     EXPECT_EQ(device.Ioctl(IOCTL_MYDRV_REVERSE, "abc", 16).Text(), "cba");
//   }
//
// Drivers and programs are named by their target (ntbox_add_driver_test puts name=path entries,
// separated by ':', in NTBOX_TEST_FILES) or by a path. The library has no GoogleTest inside: the fixture below, compiled
// into the test, hands it failures.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// The I/O control code macros of the WDK's headers, so the header a driver shares with its app
// compiles in its test too.
#ifndef CTL_CODE
#define CTL_CODE(DeviceType, Function, Method, Access) \
  ((static_cast<std::uint32_t>(DeviceType) << 16) | ((Access) << 14) | ((Function) << 2) | (Method))
#define METHOD_BUFFERED 0
#define METHOD_IN_DIRECT 1
#define METHOD_OUT_DIRECT 2
#define METHOD_NEITHER 3
#define FILE_ANY_ACCESS 0
#define FILE_READ_ACCESS 1
#define FILE_WRITE_ACCESS 2
#endif

namespace ntbox::testing {

// One request's outcome as the app sees it.
struct IoResult {
  bool delivered = false;  // false: the request never reached the driver (error says why)
  std::string error;
  std::uint32_t status = 0;        // the NTSTATUS the driver completed it with
  std::uint64_t information = 0;   // IoStatus.Information
  std::uint32_t win32 = 0;         // what GetLastError would say (0 on success)
  std::vector<std::uint8_t> output;  // the bytes the driver returned
  bool Succeeded() const { return delivered && static_cast<std::int32_t>(status) >= 0; }
  std::string Text() const { return {output.begin(), output.end()}; }
  // The output as a reply structure (zero-filled past what the driver returned).
  template <class T>
  T As() const {
    T value{};
    std::memcpy(&value, output.data(), std::min(output.size(), sizeof(T)));
    return value;
  }
};

struct ProgramResult {
  bool ran = false;  // false: the program could not be loaded (error says why)
  std::string error;
  std::uint32_t exitCode = 0;
  std::string output;  // what it wrote to stdout and stderr
};

struct StopInfo {
  std::uint32_t code = 0;  // the bugcheck code
  std::string name;        // IRQL_NOT_LESS_OR_EQUAL
  std::string report;      // the whole report, as `ntbox crash` shows it
};

class Machine;

// An open handle to a device, closed with the object.
class Device {
 public:
  Device() = default;
  Device(Device&& other) noexcept;
  Device& operator=(Device&& other) noexcept;
  ~Device();
  explicit operator bool() const { return !machine_.expired(); }

  // DeviceIoControl with input copied into user memory and outputSize bytes of user memory for the
  // answer. Query: no input.
  IoResult Ioctl(std::uint32_t code, std::span<const std::uint8_t> input, std::uint32_t outputSize = 0);
  IoResult Ioctl(std::uint32_t code, std::string_view input, std::uint32_t outputSize = 0);
  IoResult Query(std::uint32_t code, std::uint32_t outputSize = 0) { return Ioctl(code, std::span<const std::uint8_t>{}, outputSize); }
  // A plain structure or number as the input (a string literal goes as text, without its NUL).
  template <class T>
    requires(std::is_trivially_copyable_v<T> && !std::is_array_v<T> && !std::is_pointer_v<T>)
  IoResult Ioctl(std::uint32_t code, const T& input, std::uint32_t outputSize = 0) {
    return Ioctl(code, std::span(reinterpret_cast<const std::uint8_t*>(&input), sizeof(T)), outputSize);
  }
  // As DeviceIoControl with the pointers as they are: user memory from Machine::UserMemory, or any
  // address at all (a kernel one, nullptr, a freed one): the I/O manager probes as Windows does.
  // output stays empty; the driver wrote to *out.
  IoResult IoctlRaw(std::uint32_t code, const void* in, std::uint32_t inLength, void* out, std::uint32_t outLength);
  IoResult Read(std::uint32_t length);
  IoResult Write(std::span<const std::uint8_t> data);
  IoResult Write(std::string_view data);
  void Close();

 private:
  friend class Machine;
  struct State;
  Device(std::weak_ptr<State> machine, std::uint64_t handle) : machine_(std::move(machine)), handle_(handle) {}
  std::weak_ptr<State> machine_;  // expired once the machine is gone (a fixture's member outlives it)
  std::uint64_t handle_ = 0;
};

struct Options {
  bool verifier = true;  // Driver Verifier's standard checks (pool tracking: leaks at unload stop)
  std::chrono::milliseconds idleTimeout{10000};  // how long WaitIdle waits before it fails the test
  std::chrono::milliseconds programTimeout{60000};  // Run ends a program that takes longer (a failure)
};

// Where a failure goes (the fixture: ADD_FAILURE).
using Reporter = std::function<void(const std::string& message)>;

class Machine {
 public:
  // Boots a machine in a new temporary directory; nullptr (reported) when it cannot.
  static std::unique_ptr<Machine> Create(std::string_view name, const Options& options, Reporter report);
  // Finish() if the test did not, then shuts the machine down and removes its directory.
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  const std::filesystem::path& directory() const;

  // Installs the driver (a target name or a path to a .sys) as a demand-start kernel service named
  // service (default: the file's stem) and starts it. false (reported) when it does not start.
  bool StartDriver(std::string_view driver, std::string_view service = {});
  // Stops the service: DriverUnload runs, then the verifier's unload checks.
  bool StopDriver(std::string_view service);
  // \\.\Name, \??\Name or \Device\Name; an empty Device (reported) when it cannot be opened.
  Device Open(std::string_view name);
  // Runs a Win32 program (a target name or a path to an .exe) to its end (ended, and reported, after
  // Options::programTimeout).
  ProgramResult Run(std::string_view program, const std::vector<std::string>& args = {});

  // Zeroed user memory of the process the requests come from, freed with the machine.
  std::span<std::uint8_t> UserMemory(std::size_t size);

  // Debug output (DbgPrint, KdPrint) since boot, one record a line as DebugView shows the text.
  std::string DebugOutput() const;
  // Waits until no DPC, timer, work item or system thread has anything left to do, or the machine
  // stopped: DPCs run, one-shot timers expired, periodic timers fired once, work items done, system
  // threads asleep in untimed waits. false (reported, with what was still pending) after
  // Options::idleTimeout.
  bool WaitIdle();

  // The bugcheck the machine stopped with, if it did.
  std::optional<StopInfo> Stop() const;
  // The test passes only if the machine stops with this code (by the end of the test).
  void ExpectStop(std::uint32_t code);

  // The end of a test (the fixture's TearDown): WaitIdle, every driver the test started stopped,
  // every unexpected stop reported. Once; later calls do nothing.
  void Finish();

  // Host path of a file the project built (NTBOX_TEST_FILES), or name itself when it is a path.
  static std::string File(std::string_view name);

 private:
  using Impl = Device::State;
  explicit Machine(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The fixture: a fresh machine per test, finished in TearDown.
class Test : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    machine_ = Machine::Create(info ? info->name() : "test", options(),
                               [](const std::string& message) { ADD_FAILURE() << message; });
    ASSERT_TRUE(machine_) << "the test's machine did not boot";
  }
  void TearDown() override {
    if (machine_) machine_->Finish();
    machine_.reset();
  }
  // Overridden by a fixture that wants other options.
  virtual Options options() const { return {}; }
  Machine& machine() { return *machine_; }

 private:
  std::unique_ptr<Machine> machine_;
};

}  // namespace ntbox::testing
