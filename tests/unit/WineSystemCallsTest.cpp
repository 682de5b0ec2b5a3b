// Wine's ntdll.dll, as scripts/fetch-wine.sh installs it: its system-call numbering is read from
// the thunks by name, and an ntdll whose thunks or tables do not match is refused, not misnumbered.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "pe/PeTables.h"
#include "pe/PeImage.h"
#include "user/wine/SystemCalls.h"

namespace {

using namespace ntbox;
using ntbox::user::wine::SystemCallNumbering;

std::string Ntdll() { return std::string(NTBOX_WINE_DIR) + "/x86_64-windows/ntdll.dll"; }

TEST(WineSystemCalls, NumbersComeFromTheThunksByName) {
  auto image = pe::PeImage::ParseFile(Ntdll());
  ASSERT_TRUE(image) << image.error().message;
  auto numbering = SystemCallNumbering::Read(*image);
  ASSERT_TRUE(numbering) << numbering.error().message;
  // Wine 8.0: 228 Nt services and 7 of Wine's own, numbered in the order of their names.
  EXPECT_EQ(numbering->count(), 235u);
  for (std::uint32_t n = 1; n < numbering->count(); ++n) {
    EXPECT_LT(numbering->NameOf(n - 1), numbering->NameOf(n));
  }
  for (const char* wine : {"__wine_dbg_write", "wine_server_call", "wine_nt_to_unix_file_name"}) {
    EXPECT_TRUE(numbering->NumberOf(wine)) << wine;
  }
  // Argument sizes are Windows' (8 bytes an argument).
  const auto close = numbering->NumberOf("NtClose");
  ASSERT_TRUE(close);
  EXPECT_EQ(numbering->NumberOf("ZwClose"), close);
  EXPECT_EQ(numbering->ArgumentBytes(*close), 8u);
  EXPECT_EQ(numbering->ArgumentBytes(*numbering->NumberOf("NtWriteFile")), 9u * 8);
  EXPECT_EQ(numbering->ArgumentBytes(*numbering->NumberOf("NtCreateFile")), 11u * 8);
  EXPECT_EQ(numbering->ArgumentBytes(*numbering->NumberOf("NtDeviceIoControlFile")), 10u * 8);
  EXPECT_FALSE(numbering->NumberOf("NtNoSuchService"));
}

// A thunk of another shape leaves its number without a name: refused, naming the number.
TEST(WineSystemCalls, AnUnexpectedThunkIsRefused) {
  auto image = pe::PeImage::ParseFile(Ntdll());
  ASSERT_TRUE(image);
  auto exports = pe::ReadExports(*image);
  ASSERT_TRUE(exports);
  const auto close = std::find_if(exports->begin(), exports->end(), [](const auto& e) { return e.name == "NtClose"; });
  ASSERT_NE(close, exports->end());
  std::vector<std::uint8_t> file = image->file();
  const auto at = pe::BytesAtRva(*image, close->rva, 32);
  ASSERT_TRUE(at);
  const std::size_t offset = static_cast<std::size_t>(at->data() - image->file().data());
  file[offset + 10] = 0x90;  // the syscall instruction is gone
  auto changed = pe::PeImage::Parse(std::move(file));
  ASSERT_TRUE(changed);
  auto numbering = SystemCallNumbering::Read(*changed);
  ASSERT_FALSE(numbering);
  EXPECT_NE(numbering.error().message.find("no thunk for system call 0x"), std::string::npos)
      << numbering.error().message;
}

// A DLL that is not Wine's ntdll has no thunks at all.
TEST(WineSystemCalls, AnotherDllIsRefused) {
  auto image = pe::PeImage::ParseFile(std::string(NTBOX_WINE_DIR) + "/x86_64-windows/version.dll");
  ASSERT_TRUE(image);
  auto numbering = SystemCallNumbering::Read(*image);
  ASSERT_FALSE(numbering);
  EXPECT_NE(numbering.error().message.find("no system-call thunk"), std::string::npos) << numbering.error().message;
}

}  // namespace

namespace {

std::vector<std::string> ExportNames(const std::string& file) {
  auto image = ntbox::pe::PeImage::ParseFile(file);
  EXPECT_TRUE(image) << file;
  if (!image) return {};
  auto exports = ntbox::pe::ReadExports(*image);
  EXPECT_TRUE(exports);
  std::vector<std::string> names;
  for (const auto& e : *exports) names.push_back(e.name);
  return names;
}

// ntbox's sechost.dll stands in for Wine's: it must export every name Wine's does (advapi32 and user32
// import from it at load), implementing the service API and forwarding the rest to Wine's own,
// installed as winesechost.dll. A new Wine with new exports fails here, not in a program.
TEST(WineSystemDlls, NtboxSechostCoversWinesExports) {
  const auto wine = ExportNames(std::string(NTBOX_WINE_DIR) + "/x86_64-windows/winesechost.dll");
  const auto ours = ExportNames(std::string(NTBOX_SYSTEM_DLL_DIR) + "/sechost.dll");
  ASSERT_GT(wine.size(), 200u);
  for (const auto& name : wine) {
    EXPECT_TRUE(std::find(ours.begin(), ours.end(), name) != ours.end()) << name;
  }
  auto image = ntbox::pe::PeImage::ParseFile(std::string(NTBOX_SYSTEM_DLL_DIR) + "/sechost.dll");
  ASSERT_TRUE(image);
  auto exports = ntbox::pe::ReadExports(*image);
  ASSERT_TRUE(exports);
  for (const auto& e : *exports) {
    const bool serviceApi = e.name.find("Service") != std::string::npos || e.name.find("SCManager") != std::string::npos;
    if (e.name == "OpenSCManagerW" || e.name == "CreateServiceW" || e.name == "StartServiceW") {
      EXPECT_FALSE(e.forwarder) << e.name << " is ntbox's own";
    }
    if (!serviceApi) {
      EXPECT_TRUE(e.forwarder) << e.name << " should be Wine's";
    }
  }
}

}  // namespace
