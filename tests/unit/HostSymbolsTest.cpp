// Kernel frames are named as the routine they are: what a report's STACK_TEXT shows for ntbox's
// own functions (nt/support/HostSymbols).
#include "nt/support/HostSymbols.h"

#include <gtest/gtest.h>

#include "nt/io/IoExports.h"

namespace ntbox::nt {
namespace {

TEST(HostSymbolsTest, KernelFramesAreNamedAsTheRoutine) {
  EXPECT_EQ(KernelFrameName("ntbox::nt::IofCallDriver(ntbox::nt::DEVICE_OBJECT*, ntbox::nt::IRP*)"), "IofCallDriver");
  EXPECT_EQ(KernelFrameName("ntbox::nt::ke::Processors::RunDpc(ntbox::nt::KDPC*)"), "Processors::RunDpc");
  EXPECT_EQ(KernelFrameName("ntbox::nt::io::(anonymous namespace)::SendAndWait(ntbox::nt::DEVICE_OBJECT*, "
                            "ntbox::nt::io::IrpBlock*)"),
            "SendAndWait");
  // A lambda run through a FunctionRef or CallGuarded is named by the function it is in.
  EXPECT_EQ(KernelFrameName("ntbox::FunctionRef<void ()>::FunctionRef<ntbox_system_service::{lambda()#1}>("
                            "ntbox_system_service::{lambda()#1}&&)::{lambda(void*)#1}::_FUN(void*)"),
            "ntbox_system_service");
  EXPECT_EQ(KernelFrameName("ntbox::cpu::CallGuarded<ntbox::nt::Kernel::RunGuarded(ntbox::FunctionRef<void ()>)::"
                            "{lambda()#1}>(ntbox::nt::Kernel::RunGuarded(ntbox::FunctionRef<void ()>)::{lambda()#1}&&)"
                            "::{lambda(void*)#1}::_FUN(void*)"),
            "Kernel::RunGuarded");
  EXPECT_EQ(KernelFrameName("std::vector<int, std::allocator<int> > ntbox::nt::Foo<int>(int)"), "Foo");
}

TEST(HostSymbolsTest, TheExecutablesOwnFunctionsAreFoundByAddress) {
  // A kernel routine of this executable (the kernel library is linked into it).
  const auto address = reinterpret_cast<std::uint64_t>(&IofCallDriver);
  const auto at = HostSymbolAt(address + 4);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->name, "IofCallDriver");
  EXPECT_EQ(at->start, address);
  EXPECT_FALSE(at->plumbing);
  EXPECT_FALSE(HostSymbolAt(0x1000));
}

}  // namespace
}  // namespace ntbox::nt
