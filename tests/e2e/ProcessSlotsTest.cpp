// A machine that stopped gives back every user address-space slot when it goes, the processes it
// abandoned included (a program with a device open when a driver bugchecked, the native client):
// a test program boots hundreds of machines in one host process (ntbox::testing).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "machine/Machine.h"
#include "nt/mm/UserSpace.h"

namespace {

namespace fs = std::filesystem;
using ntbox::machine::Machine;

TEST(ProcessSlots, AStoppedMachineGivesBackItsAbandonedProcessesSlots) {
  const fs::path dir = fs::path(testing::TempDir()) / ("ntbox_slots_" + std::to_string(getpid()));
  fs::remove_all(dir);
  {
    auto m = Machine::OpenOffline(dir);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE((*m)->StoreBootConfig(ntbox::machine::BootConfig{true, false}));
    ntbox::machine::ServiceConfig config;
    config.name = "SIoctl";
    config.imagePath = Machine::ToImagePath(NTBOX_DRIVER_DIR "/ioctl_sample.sys", "/");
    ASSERT_TRUE((*m)->CreateService(config));
  }
  const std::size_t before = ntbox::nt::mm::UserSpace::SlotsTaken();
  {
    auto m = Machine::Boot(dir);
    ASSERT_TRUE(m) << m.error().message;
    Machine& machine = **m;
    ASSERT_TRUE(machine.StartService("SIoctl"));
    // The native client with a handle open, and a program whose request faults in the driver.
    ASSERT_TRUE(machine.OpenDevice("\\\\.\\IoctlTest"));
    ntbox::user::ProgramOptions options;
    options.hostPath = NTBOX_DRIVER_DIR "/ioctl_app.exe";
    options.name = "ioctl_app.exe";
    options.args = {"fault"};
    options.currentDirectory = "Z:\\";
    const int null = ::open("/dev/null", O_RDWR);
    options.stdio = {null, null, null};
    auto program = machine.LoadProgram(options);
    ASSERT_TRUE(program) << program.error().message;
    (void)(*program)->Run();
    ::close(null);
    ASSERT_TRUE(machine.crashReport());
    EXPECT_GE(ntbox::nt::mm::UserSpace::SlotsTaken(), before + 2);
    program->reset();  // its handle cannot close: abandoned to the machine
  }
  EXPECT_EQ(ntbox::nt::mm::UserSpace::SlotsTaken(), before);
  fs::remove_all(dir);
}

}  // namespace
