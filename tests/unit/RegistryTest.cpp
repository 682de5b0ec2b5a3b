// The registry: names without case, CurrentControlSet, value types, transactions that land whole
// or not at all (also across kill -9), and .reg files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "machine/RegFile.h"
#include "machine/Registry.h"

namespace ntbox::machine {
namespace {

namespace fs = std::filesystem;

class RegistryTest : public testing::Test {
 protected:
  void SetUp() override {
    file_ = fs::path(testing::TempDir()) / ("ntbox_reg_" + std::to_string(getpid()) + ".db");
    Cleanup();
    auto r = Registry::Open(file_.string());
    ASSERT_TRUE(r) << r.error().message;
    reg_ = std::move(*r);
  }
  void TearDown() override {
    reg_.reset();
    Cleanup();
  }
  void Cleanup() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file_.string() + suffix);
  }
  fs::path file_;
  std::unique_ptr<Registry> reg_;
};

TEST_F(RegistryTest, KeysAndValuesIgnoreCase) {
  ASSERT_TRUE(reg_->SetValue("MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Beep", RegValue::Dword("Start", 1)));
  EXPECT_TRUE(reg_->KeyExists("machine\\system\\controlset001\\services\\BEEP"));
  EXPECT_EQ(reg_->GetValue("MACHINE\\SYSTEM\\ControlSet001\\Services\\beep", "START")->AsDword(), 1u);
  EXPECT_EQ(reg_->CanonicalPath("machine\\system\\currentcontrolset\\services\\beep"),
            "MACHINE\\SYSTEM\\ControlSet001\\Services\\Beep");
  ASSERT_TRUE(reg_->SetValue("MACHINE\\SYSTEM\\ControlSet001\\Services\\Beep", RegValue::Dword("start", 3)));
  EXPECT_EQ(reg_->Values("MACHINE\\SYSTEM\\ControlSet001\\Services\\Beep").size(), 1u);
  EXPECT_FALSE(reg_->DeleteKey("MACHINE\\NoSuchKey"));
  ASSERT_TRUE(reg_->DeleteKey("MACHINE\\SYSTEM\\ControlSet001\\Services"));
  EXPECT_FALSE(reg_->KeyExists("MACHINE\\SYSTEM\\ControlSet001\\Services\\Beep"));
}

// As on Windows: the root keys, the hives' roots and the control set stay, whatever asks.
TEST_F(RegistryTest, RootsAndHivesCannotBeDeleted) {
  ASSERT_TRUE(reg_->SetValue("MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Beep", RegValue::Dword("Start", 1)));
  ASSERT_TRUE(reg_->CreateKey("USER\\.DEFAULT\\Software"));
  for (const char* key : {"MACHINE", "machine\\system", "MACHINE\\SYSTEM\\CurrentControlSet",
                          "MACHINE\\SYSTEM\\ControlSet001", "USER", "USER\\.DEFAULT"}) {
    const auto r = reg_->DeleteKey(key);
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.error().win32, 5u) << key;
  }
  EXPECT_TRUE(reg_->KeyExists("MACHINE\\SYSTEM\\ControlSet001\\Services\\Beep"));
  EXPECT_TRUE(reg_->DeleteKey("USER\\.DEFAULT\\Software"));
}

// Keys nest at most 512 levels below their hive's root, so whatever is created can be deleted.
TEST_F(RegistryTest, KeysNestAtMost512Deep) {
  std::string deepest = "MACHINE\\SOFTWARE";
  for (std::size_t i = 1; i < Registry::kMaxDepth; ++i) deepest += "\\k";
  ASSERT_TRUE(reg_->CreateKey(deepest));
  const auto tooDeep = reg_->CreateKey(deepest + "\\k");
  ASSERT_FALSE(tooDeep);
  EXPECT_EQ(tooDeep.error().win32, 87u);
  EXPECT_FALSE(reg_->SetValue(deepest + "\\k", RegValue::Dword("v", 1)));
  ASSERT_TRUE(reg_->DeleteKey("MACHINE\\SOFTWARE\\k"));
  EXPECT_FALSE(reg_->KeyExists("MACHINE\\SOFTWARE\\k"));
}

TEST_F(RegistryTest, ValueEncodings) {
  const auto s = RegValue::String("s", "Grüße");
  EXPECT_EQ(s.data.size(), 12u) << "UTF-16LE with its terminator";
  EXPECT_EQ(s.AsString(), "Grüße");
  const auto m = RegValue::MultiString("m", {"a", "bc"});
  EXPECT_EQ(m.AsMultiString(), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(RegValue::Qword("q", 1ull << 40).AsQword(), 1ull << 40);
}

TEST_F(RegistryTest, AFailedTransactionChangesNothing) {
  auto r = reg_->Atomically([&]() -> Result<void> {
    EXPECT_TRUE(reg_->SetValue("MACHINE\\A", RegValue::Dword("x", 1)));
    return Fail("stop here");
  });
  EXPECT_FALSE(r);
  EXPECT_FALSE(reg_->KeyExists("MACHINE\\A"));
}

TEST_F(RegistryTest, KillNineNeverHalfWrites) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  if (child == 0) {
    auto r = Registry::Open(file_.string());
    for (std::uint32_t i = 1;; ++i) {
      (void)(*r)->Atomically([&]() -> Result<void> {
        for (const char* name : {"a", "b", "c", "d"}) {
          if (auto s = (*r)->SetValue("MACHINE\\Counter", RegValue::Dword(name, i)); !s) return s;
        }
        return {};
      });
      if (i == 200) (void)!write(ready[1], "r", 1);
    }
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);  // 200 transactions done; the child keeps writing
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  reg_.reset();
  auto reopened = Registry::Open(file_.string());
  ASSERT_TRUE(reopened);
  const auto a = (*reopened)->GetValue("MACHINE\\Counter", "a")->AsDword();
  ASSERT_TRUE(a);
  EXPECT_GE(*a, 200u);
  for (const char* name : {"b", "c", "d"}) {
    EXPECT_EQ((*reopened)->GetValue("MACHINE\\Counter", name)->AsDword(), a) << "a transaction landed in part";
  }
}

std::vector<std::uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST_F(RegistryTest, RegFileRoundTrip) {
  const std::string key = "MACHINE\\SOFTWARE\\T";
  ASSERT_TRUE(reg_->SetValue(key, RegValue::String("", "default \"quoted\" \\ back")));
  ASSERT_TRUE(reg_->SetValue(key, RegValue::Dword("d", 0xDEADBEEF)));
  ASSERT_TRUE(reg_->SetValue(key, RegValue::String("e", "%SystemRoot%\\x", REG_EXPAND_SZ)));
  ASSERT_TRUE(reg_->SetValue(key, RegValue::MultiString("m", {"one", "two"})));
  ASSERT_TRUE(reg_->SetValue(key, RegValue::Qword("q", 5)));
  ASSERT_TRUE(reg_->SetValue(key, RegValue{"b", REG_BINARY, std::vector<std::uint8_t>(100, 0xAB)}));
  ASSERT_TRUE(reg_->CreateKey(key + "\\Sub"));
  const auto exported = ExportRegFile(*reg_, key, "HKEY_LOCAL_MACHINE\\SOFTWARE\\T");
  const auto before = reg_->Values(key);
  ASSERT_TRUE(reg_->DeleteKey(key));
  auto ops = ParseRegFile(exported);
  ASSERT_TRUE(ops) << ops.error().message;
  ASSERT_TRUE(ApplyRegFile(*reg_, *ops));
  const auto after = reg_->Values(key);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].name, before[i].name);
    EXPECT_EQ(after[i].type, before[i].type);
    EXPECT_EQ(after[i].data, before[i].data) << after[i].name;
  }
  EXPECT_TRUE(reg_->KeyExists(key + "\\Sub"));
}

// Found by the .reg fuzzer: a value type too long for 32 bits threw out of the parser (and took the
// server with it); it is a malformed line like any other.
TEST_F(RegistryTest, RegFileValueTypeOverflowIsRefused) {
  auto ops = ParseRegFile(Bytes("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\x]\r\n"
                                "\"a\"=hex(99999999999999999991):25,00\r\n"));
  ASSERT_FALSE(ops);
  EXPECT_NE(ops.error().message.find("hex(type) is malformed"), std::string::npos) << ops.error().message;
  ops = ParseRegFile(Bytes("REGEDIT4\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\x]\r\n\"a\"=hex(ffffffff):01\r\n"));
  EXPECT_TRUE(ops) << "the largest type there is";
}

TEST_F(RegistryTest, RegFileDeletesAndRefusals) {
  ASSERT_TRUE(reg_->SetValue("MACHINE\\SOFTWARE\\Gone", RegValue::Dword("x", 1)));
  ASSERT_TRUE(reg_->SetValue("MACHINE\\SOFTWARE\\Keep", RegValue::Dword("y", 1)));
  auto ops = ParseRegFile(Bytes("REGEDIT4\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Gone]\r\n"
                                "[HKLM\\SOFTWARE\\Keep]\r\n\"y\"=-\r\n\"z\"=hex:01,\\\r\n  02\r\n"));
  ASSERT_TRUE(ops) << ops.error().message;
  ASSERT_TRUE(ApplyRegFile(*reg_, *ops));
  EXPECT_FALSE(reg_->KeyExists("MACHINE\\SOFTWARE\\Gone"));
  EXPECT_FALSE(reg_->GetValue("MACHINE\\SOFTWARE\\Keep", "y"));
  EXPECT_EQ(reg_->GetValue("MACHINE\\SOFTWARE\\Keep", "z")->data, (std::vector<std::uint8_t>{1, 2}));

  const std::pair<const char*, const char*> bad[] = {
      {"", "line 1"},
      {"hello\n", "line 1"},
      {"REGEDIT4\n\"v\"=dword:1\n", "line 2"},
      {"REGEDIT4\n[HKEY_NOWHERE\\x]\n", "line 2"},
      {"REGEDIT4\n[HKLM\\x]\n\"v\"=dword:123456789\n", "line 3"},
      {"REGEDIT4\n[HKLM\\x]\n\"v\"=hex:zz\n", "line 3"},
      {"REGEDIT4\n[HKLM\\x]\n\"v\"=\"open\n", "line 3"},
      {"REGEDIT4\n[HKLM\\x\n", "line 2"},
      {"REGEDIT4\n[HKLM\\x]\n\n\n\"ok\"=dword:1\nv=1\n", "line 6"},
  };
  for (const auto& [text, where] : bad) {
    const auto r = ParseRegFile(Bytes(text));
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message.find(where), std::string::npos) << text << " → " << r.error().message;
  }
}

}  // namespace
}  // namespace ntbox::machine
