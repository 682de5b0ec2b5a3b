// The kernel's locks and lists through a real driver (sync_objects.sys), with the test kit: every API's contract
// checked from the driver's side, then system threads contending for each kind of lock around a
// read-sleep-write of a counter. A lock that did not exclude would lose updates or let two
// threads in at once; one that never granted would hang the IOCTL.
#include <ntbox/testing.h>

#include <cstdint>
#include <string>

#include "tests/drivers/sync_objects/sync_shared.h"

namespace {

constexpr std::uint32_t Ctl(std::uint32_t function) { return (0x22u << 16) | (function << 2); }
constexpr std::uint32_t kChecks = Ctl(0x800);
constexpr std::uint32_t kContend = Ctl(0x801);

class SyncTest : public ntbox::testing::Test {
 protected:
  void SetUp() override {
    Test::SetUp();
    ASSERT_TRUE(machine().StartDriver("sync_objects"));
    device_ = machine().Open("\\\\.\\SyncObjects");
    ASSERT_TRUE(device_);
  }
  // An IOCTL whose reply is the plain struct T.
  template <class T>
  T Ask(std::uint32_t code, std::uint32_t input = 0, bool withInput = false) {
    const auto r = withInput ? device_.Ioctl(code, input, sizeof(T)) : device_.Query(code, sizeof(T));
    EXPECT_TRUE(r.Succeeded()) << r.error << std::hex << r.status << "\n" << Output();
    EXPECT_EQ(r.output.size(), sizeof(T));
    return r.As<T>();
  }
  std::string Output() { return machine().DebugOutput(); }
  ntbox::testing::Device device_;
};

TEST_F(SyncTest, EveryApiKeepsItsContract) {
  const auto result = Ask<SYNC_CHECKS>(kChecks);
  EXPECT_EQ(result.Checks, 74u);
  EXPECT_EQ(result.Failures, 0u) << Output();
  EXPECT_EQ(Output().find("sync: FAIL"), std::string::npos) << Output();
}

class SyncContendTest : public SyncTest, public ::testing::WithParamInterface<std::uint32_t> {};

TEST_P(SyncContendTest, ThreadsExcludeEachOther) {
  const std::uint32_t kind = GetParam();
  const auto result = Ask<SYNC_CONTENTION>(kContend, kind, true);
  const bool readers = kind == SYNC_LOCK_RESOURCE || kind == SYNC_LOCK_PUSH_LOCK;
  // Shared/exclusive locks spend every other round reading.
  EXPECT_EQ(result.Counter, readers ? SYNC_THREADS * SYNC_ROUNDS / 2 : SYNC_THREADS * SYNC_ROUNDS) << Output();
  EXPECT_EQ(result.MaxInside, 1u) << Output();
  EXPECT_EQ(result.ThreadStatus, 0u);
  // The sleeping holders make the others wait; spin locks are never found held (no holder sleeps).
  if (kind == SYNC_LOCK_FAST_MUTEX || kind == SYNC_LOCK_GUARDED_MUTEX || kind == SYNC_LOCK_RESOURCE) {
    EXPECT_GT(result.Contended, 0u) << Output();
  }
  // An ERESOURCE lets readers share it (its fairness queues them behind writers, so they meet);
  // push locks share too, but whether two readers overlap is up to the schedule.
  if (kind == SYNC_LOCK_RESOURCE) {
    EXPECT_GT(result.MaxReaders, 1u) << Output();
  }
  if (readers) {
    EXPECT_GE(result.MaxReaders, 1u) << Output();
  }
}

std::string LockName(const ::testing::TestParamInfo<std::uint32_t>& info) {
  static const char* const kNames[] = {"FastMutex", "GuardedMutex", "Resource", "PushLock",
                                       "SpinLock",  "QueuedSpinLock", "KMutex"};
  return kNames[info.param];
}

INSTANTIATE_TEST_SUITE_P(Locks, SyncContendTest,
                         ::testing::Values(SYNC_LOCK_FAST_MUTEX, SYNC_LOCK_GUARDED_MUTEX, SYNC_LOCK_RESOURCE,
                                         SYNC_LOCK_PUSH_LOCK, SYNC_LOCK_SPIN_LOCK, SYNC_LOCK_QUEUED_SPIN_LOCK,
                                         SYNC_LOCK_KMUTEX),
                         LockName);

}  // namespace
