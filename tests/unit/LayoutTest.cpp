// Binary compatibility, tested: the layout_probe driver (mingw-w64, DDK headers) prints the
// offset of every field in layout_fields.h; ntbox's own layouts must agree field by field.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/ex/ExTypes.h"
#include "nt/io/Driver.h"
#include "nt/io/IoTypes.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/ps/Notify.h"
#include "nt/cm/CmCallbacks.h"
#include "nt/etw/Etw.h"
#include "nt/ob/ObCallbacks.h"
#include "nt/rtl/RtlExports.h"

namespace {

using namespace ntbox::nt;

std::map<std::string, std::size_t> HostLayout() {
  std::map<std::string, std::size_t> m;
#define NTBOX_SIZE(T) m[#T] = sizeof(T);
#define NTBOX_FIELD(T, M) m[#T "." #M] = __builtin_offsetof(T, M);
#include "layout_fields.h"
#undef NTBOX_SIZE
#undef NTBOX_FIELD
  return m;
}

std::map<std::string, std::size_t> ProbeLayout() {
  Kernel kernel;
  ke::ThreadAttachment attach;
  std::map<std::string, std::size_t> m;
  kernel.SetDebugSink([&m](const DebugRecord& r) {
    std::istringstream line(r.text);
    std::string tag, name;
    std::size_t value;
    if (line >> tag >> name >> value && tag == "LAYOUT") m[name] = value;
  });
  auto driver = Driver::Load(kernel, std::string(NTBOX_DRIVER_DIR) + "/layout_probe.sys");
  EXPECT_TRUE(driver) << (driver ? "" : driver.error().message);
  if (!driver) return m;
  auto status = (*driver)->CallEntry();
  EXPECT_TRUE(status && *status == STATUS_SUCCESS);
  return m;
}

TEST(Layout, MatchesMingwDdkFieldByField) {
  const auto host = HostLayout();
  const auto probe = ProbeLayout();
  ASSERT_EQ(host.size(), probe.size()) << "the probe did not report every field";
  // Sizes that legitimately differ: the WDK aligns DEVICE_OBJECT to 16 (0x150) where mingw's
  // header does not (0x148); KUSER_SHARED_DATA's size depends on the Windows version.
  const std::set<std::string> sizeExceptions{"DEVICE_OBJECT", "KUSER_SHARED_DATA"};
  for (const auto& [name, value] : host) {
    auto it = probe.find(name);
    ASSERT_NE(it, probe.end()) << name << " missing from the probe";
    if (sizeExceptions.contains(name)) continue;
    EXPECT_EQ(value, it->second) << name << ": ntbox 0x" << std::hex << value << ", mingw-w64 0x" << it->second;
  }
  EXPECT_EQ(probe.at("DEVICE_OBJECT"), 0x148u);
  EXPECT_EQ(host.at("DEVICE_OBJECT"), 0x150u);
}

}  // namespace
