// End to end: the real `ntbox load` binary on drivers built by mingw-w64.
#include <gtest/gtest.h>

#include "NtboxRun.h"
#include "pe/PeImage.h"
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace {

using ntbox::test::Driver;
using ntbox::test::Ntbox;
using ntbox::test::Outcome;
using ntbox::test::Slurp;

TEST(Load, Seed000FirstDriver) {
  const Outcome r = Ntbox("load " + Driver("FirstDriverSample.sys"));
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            "This is my first sample driver\n"
            "OS version is : 10.0.19045\n"
            "This driver unloaded\n"
            "DriverEntry returned 0x00000000 (STATUS_SUCCESS); unloaded\n");
  EXPECT_EQ(r.err, "");
}

// The verifier is never wrong about legal code: the documented IRQL, spin-lock, pool, wait and IRP
// idioms, built four ways, run under the standard checks with no stop.
class LegalIdiomsTest : public testing::TestWithParam<const char*> {};

TEST_P(LegalIdiomsTest, RunWithNoStop) {
  const Outcome r = Ntbox(std::string("load ") + Driver(std::string("legal_idioms_") + GetParam() + ".sys"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("legal idioms: 30 checks, 0 failed\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("STOP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("DriverEntry returned 0x00000000 (STATUS_SUCCESS); unloaded"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Verifier, LegalIdiomsTest, testing::Values("O0", "O2", "Os", "clang"));

TEST(Load, ConfigurableOsVersion) {
  const Outcome r = Ntbox("load --os-version 10.0.22631 " + Driver("FirstDriverSample.sys"));
  EXPECT_EQ(r.exit, 0);
  EXPECT_NE(r.out.find("OS version is : 10.0.22631\n"), std::string::npos);
  EXPECT_EQ(Ntbox("load --os-version ten " + Driver("FirstDriverSample.sys")).exit, 2);
}

TEST(Load, DriverWithoutUnloadStaysLoaded) {
  const Outcome r = Ntbox("load " + Driver("FirstDriverNoUnload.sys"));
  EXPECT_EQ(r.exit, 0);
  EXPECT_NE(r.out.find("no DriverUnload"), std::string::npos);
  EXPECT_NE(r.out.find("1052"), std::string::npos);
}

// The same checks built by clang -O2, whose code reads the shared data in other forms.
TEST(Load, KernelBasicsByClang) {
  const Outcome r = Ntbox("load " + Driver("kernel_basics_clang.sys"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("RESULT 0 failure(s)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("IRQL ok: inline cr8 raise/lower, now 0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FOLD ok: add, sub, and, or, xor, adc with KUSER_SHARED_DATA operands\n"), std::string::npos);
}

TEST(Load, KernelBasicsInlineIrqlSharedDataAndFormats) {
  const Outcome r = Ntbox("load " + Driver("kernel_basics.sys"));
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_NE(r.out.find("RESULT 0 failure(s)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("IRQL ok: inline cr8 raise/lower, now 0\n"), std::string::npos);
  EXPECT_NE(r.out.find("FOLD ok: add, sub, and, or, xor, adc with KUSER_SHARED_DATA operands\n"), std::string::npos);
  EXPECT_NE(r.out.find("kernel_basics: \\Driver\\kernel_basics, "
                       "\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\kernel_basics\n"),
            std::string::npos);
  for (const char* line : {
           "FMT %wZ=[Unicode] %Z=[Ansi] %ws=[wide] %S=[wideS] %hs=[narrow] %ls=[wideL]\n",
           "FMT %s=[str] %c=[c] %C=[W] %5s=[   ab] %-5s=[ab   ] %.2s=[ab]\n",
           "FMT %d=[-42] %i=[42] %u=[4294967295] %x=[beef] %X=[BEEF] %o=[10]\n",
           "FMT %ld=[-1] %lx=[ffffffff] %I64d=[-5000000000] %I64x=[123456789abcdef] %lld=[-7] "
           "%llu=[18446744073709551615]\n",
           "FMT %p=[000000001234ABCD] %08x=[0000001f] %-6d=[7     ] %+d=[+5] % d=[ 5] %#x=[0xff] %#o=[010]\n",
           "FMT %*d=[   42] %-*d=[1   ] %.*d=[007] %hd=[-2] %hhx=[ff] %Iu=[123]\n",
           "FMT %wZ(null)=[(null)] %s(null)=[(null)] %%=[%]\n",
           "VERSION 10.0.19045 (NtBuildNumber 19045)\n",
       }) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing: " << line;
  }
}

TEST(Load, UnresolvedImportsNamedAllAtOnce) {
  const Outcome r = Ntbox("load " + Driver("unresolved_import.sys"));
  EXPECT_EQ(r.exit, 3);
  EXPECT_NE(r.err.find("3 unresolved imports: ntoskrnl.exe!NtboxNoSuchRoutine, "
                       "ntoskrnl.exe!NtboxNoSuchRoutineEither, ntbox_absent.sys!AbsentFunction"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("never print"), std::string::npos);
}

struct Misbehaviour {
  const char* service;
  int exit;
  const char* expect;  // in stdout
  // The stop's stack has a frame of the driver (not so for what the kernel finds at unload, nor
  // after the driver threw its stack away).
  bool driverFrame = true;
};

class MisbehaveTest : public testing::TestWithParam<Misbehaviour> {};

TEST_P(MisbehaveTest, EndsAsWindowsWould) {
  const Misbehaviour& m = GetParam();
  const Outcome r = Ntbox(std::string("load --service ") + m.service + " " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, m.exit) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find(m.expect), std::string::npos) << r.out << r.err;
  if (m.exit == 4) {
    EXPECT_NE(r.out.find("Bugcheck Analysis"), std::string::npos);
    EXPECT_NE(r.out.find("MODULE_NAME: misbehave"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("LAST_DEBUG_OUTPUT:"), std::string::npos);
    // Every stop has its stack, with the driver's function in it.
    const auto stack = r.out.find("STACK_TEXT:\n");
    ASSERT_NE(stack, std::string::npos) << r.out;
    const std::string text = r.out.substr(stack, r.out.find("\n\n", stack) - stack);
    if (m.driverFrame) {
      EXPECT_NE(text.find(" misbehave!"), std::string::npos) << text;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Load, MisbehaveTest,
    testing::Values(
        Misbehaviour{"null_write", 4, "*** STOP: 0x0000007E (0xFFFFFFFFC0000005,"},
        // A write moved into a cr8 read's trampoline faults: the report names its own place.
        Misbehaviour{"fault_after_irql_read", 4, "FAULTING_IP:\nmisbehave!DriverEntry+0x"},
        // A write through SharedUserData (a constant the rewriter points at the host's read-only copy).
        Misbehaviour{"write_shared_data", 4, "*** STOP: 0x00000050 (0xFFFFF78000000004,"},
        Misbehaviour{"kernel_address", 4, "*** STOP: 0x00000050 (0x00001F0000000000,0x0000000000000000,"},
        Misbehaviour{"noncanonical", 4, "*** STOP: 0x0000007E (0xFFFFFFFFC0000005,"},
        Misbehaviour{"null_at_dispatch", 4, "*** STOP: 0x000000D1 (0x0000000000000000,0x0000000000000002,"},
        Misbehaviour{"divide", 4, "*** STOP: 0x0000007E (0xFFFFFFFFC0000094,"},
        Misbehaviour{"nt_assert", 4, "*** STOP: 0x0000001E (0xFFFFFFFFC0000420,"},
        Misbehaviour{"fastfail", 4, "*** STOP: 0x00000139 (0x0000000000000007,"},
        Misbehaviour{"bugcheck", 4,
                     "*** STOP: 0x000000E2 (0x0000000000000001,0x0000000000000002,0x0000000000000003,"
                     "0x0000000000000004) MANUALLY_INITIATED_CRASH"},
        Misbehaviour{"privileged", 4, "*** STOP: 0x0000007E (0xFFFFFFFFC0000096,"},
        Misbehaviour{"double_free", 4, "*** STOP: 0x000000C2 (0x0000000000000007,"},
        Misbehaviour{"affinity_none", 4, "*** STOP: 0x00000003 (0x0000010000000000,0x0000000000000003,"},
        Misbehaviour{"generic_call_stranded", 4, "returned without reaching it", false},
        Misbehaviour{"generic_call_at_dispatch", 4, "*** STOP: 0x0000000A ("},
        Misbehaviour{"wrong_tag", 4, "*** STOP: 0x000000C2 (0x000000000000000A,"},
        Misbehaviour{"bad_string", 4, "called from misbehave!DriverEntry+0x"},
        Misbehaviour{"stack_overflow", 4, "*** STOP: 0x0000007F (0x0000000000000008,"},
        Misbehaviour{"spinlock_twice", 4, "*** STOP: 0x000000C4 (0x0000000000001000,"},
        Misbehaviour{"spinlock_garbage", 4, "*** STOP: 0x00000133 (0x0000000000000001,"},
        Misbehaviour{"spinlock_unheld", 4, "*** STOP: 0x000000C4 (0x0000000000001007,"},
        Misbehaviour{"spinlock_release_passive", 4, "*** STOP: 0x000000C4 (0x0000000000000032,0x0000000000000000,"},
        Misbehaviour{"spinlock_at_passive", 4, "*** STOP: 0x000000C4 (0x0000000000000040,0x0000000000000000,"},
        Misbehaviour{"fast_mutex_twice", 4, "*** STOP: 0x000000C4 (0x0000000000001000,"},
        Misbehaviour{"leave_region", 4, "*** STOP: 0x000000C4 (0x000000000000003E,"},
        Misbehaviour{"resource_not_owned", 4, "*** STOP: 0x000000E3 ("},
        Misbehaviour{"assert", 0, "*** Assertion failed: g_zero == 1"},
        Misbehaviour{"breakpoint", 0, "Break instruction exception - code 80000003 (first chance) at misbehave!DriverEntry+0x"},
        Misbehaviour{"leak", 4, "*** STOP: 0x000000C4 (0x0000000000000062,", false},
        Misbehaviour{"pool_overrun", 4, "*** STOP: 0x000000D6 ("},
        Misbehaviour{"pool_slack_overrun", 4, "*** STOP: 0x000000C1 ("},
        Misbehaviour{"pool_use_after_free", 4, "*** STOP: 0x000000D5 ("},
        Misbehaviour{"timer_at_unload", 4, "*** STOP: 0x000000C7 (0x0000000000000000,", false},
        Misbehaviour{"thread_at_unload", 4, "*** STOP: 0x000000CE (", false},
        Misbehaviour{"raise_to_lower", 4,
                     "*** STOP: 0x000000C4 (0x0000000000000030,0x0000000000000002,0x0000000000000001,"},
        Misbehaviour{"raise_to_lower_optimized", 4,
                     "*** STOP: 0x000000C4 (0x0000000000000030,0x0000000000000002,0x0000000000000000,"},
        Misbehaviour{"lower_to_higher", 4,
                     "*** STOP: 0x000000C4 (0x0000000000000031,0x0000000000000000,0x0000000000000002,"
                     "0x0000000000000000)"},
        Misbehaviour{"lower_in_dpc", 4,
                     "*** STOP: 0x000000C4 (0x0000000000000031,0x0000000000000002,0x0000000000000000,"
                     "0x0000000000000001)"},
        Misbehaviour{"free_live_resource", 4, "*** STOP: 0x000000C4 (0x00000000000000D2,"},
        Misbehaviour{"free_live_lookaside", 4, "*** STOP: 0x000000C4 (0x00000000000000CC,"},
        Misbehaviour{"free_live_timer", 4, "*** STOP: 0x000000C7 (0x0000000000000000,"},
        Misbehaviour{"paged_code_at_dispatch", 4, "pageable code (a PAGE section) ran at DISPATCH_LEVEL"},
        Misbehaviour{"paged_code_in_dpc", 4, "misbehave!PagedRoutine"},
        Misbehaviour{"paged_pool_at_dispatch", 4, "paged pool touched at DISPATCH_LEVEL or above"},
        Misbehaviour{"paged_alloc_at_dispatch", 4,
                     "*** STOP: 0x000000C4 (0x0000000000000001,0x0000000000000002,0x0000000000000001,"
                     "0x0000000000000040)"},
        Misbehaviour{"paged_free_at_dispatch", 4,
                     "*** STOP: 0x000000C4 (0x0000000000000011,0x0000000000000002,0x0000000000000001,"},
        Misbehaviour{"zero_alloc", 4,
                     "*** STOP: 0x000000C4 (0x0000000000000000,0x0000000000000000,0x0000000000000200,"
                     "0x0000000000000000)"},
        Misbehaviour{"pageable_ok", 0, "pageable ok: 1 4 7"},
        Misbehaviour{"irql_changes_ok", 0, "irql changes ok, now 0"},
        // CPU state a driver leaves behind; each of the first five crashed or hung the host.
        Misbehaviour{"leave_ac", 0, "cpu state: AC set, 42"},
        Misbehaviour{"leave_df", 0, "cpu state: copied forwards"},
        Misbehaviour{"load_fs", 0, "cpu state: FS loaded"},
        Misbehaviour{"null_fs", 0, "cpu state: FS nulled"},
        Misbehaviour{"load_gs", 0, "cpu state: GS loaded, IRQL 0"},
        Misbehaviour{"unmask_fp", 0, "cpu state: FP exceptions unmasked"},
        Misbehaviour{"clobber_nonvolatile", 0, "cpu state: registers clobbered by a DPC"},
        Misbehaviour{"single_step", 4, "*** STOP: 0x0000007E (0xFFFFFFFF80000004,"},
        // A device list the driver corrupted: walked without faulting and bounded (a loop hung the
        // machine; a wild pointer crashed it).
        Misbehaviour{"device_list_loop", 0, "the driver's device list is corrupt"},
        Misbehaviour{"device_list_wild", 0, "NextDevice leads to 0x7fff12345670"},
        // Wrong reports once: 0x7F "stack overflow" for code run from the stack and for a bad rsp,
        // UNKNOWN_BUGCHECK 0xDEAD0000 for a DPC's stop while DriverEntry waited.
        Misbehaviour{"execute_stack", 4, ") ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY"},
        Misbehaviour{"garbage_rsp", 4, "the stack pointer points at no memory"},
        // The driver threw its own stack away: what is left to walk is not its.
        Misbehaviour{"ret_into_kernel", 4, "*** STOP: 0x0000007E (0xFFFFFFFFC0000005,", false},
        Misbehaviour{"dpc_fault_while_waiting", 4,
                     "*** STOP: 0x000000D1 (0x0000000000000000,0x0000000000000002,0x0000000000000001,"},
        Misbehaviour{"fail", 1, "DriverEntry returned 0xC000009A (STATUS_INSUFFICIENT_RESOURCES)"}),
    [](const testing::TestParamInfo<Misbehaviour>& info) { return std::string(info.param.service); });

// The zoo of privileged instructions: each ends in a report, as a user-mode #GP or #UD of driver
// code is a bugcheck on Windows; cli/sti run on (ntbox emulates them). None takes the host down.
class PrivilegedTest : public testing::TestWithParam<const char*> {};

TEST_P(PrivilegedTest, EndsInAReport) {
  const Outcome r = Ntbox(std::string("load --service priv_") + GetParam() + " " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4) << r.out << r.err;
  EXPECT_NE(r.out.find("*** STOP: 0x0000007E (0xFFFFFFFFC0000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MODULE_NAME: misbehave"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Load, PrivilegedTest,
                         testing::Values("hlt", "rdmsr", "wrmsr", "read_cr0", "write_cr0", "read_cr3", "write_cr4",
                                         "read_dr7", "write_dr7", "invlpg", "wbinvd", "invd", "lidt", "lgdt", "ltr",
                                         "swapgs", "clts", "in", "out", "xsetbv", "rdpmc", "sysret",
                                         "iretq_garbage", "ud2"));

TEST(Load, EmulatedPrivilegedInstructionsRunOn) {
  const Outcome r = Ntbox("load --service priv_cli_sti " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("continued after a privileged instruction"), std::string::npos) << r.out;
}

TEST(Load, VerifierNamesWhatADriverLeftBehind) {
  Outcome r = Ntbox("load --service leak " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("pool leak: 48 bytes, tag 'Leak', allocated at misbehave!DriverEntry+0x"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("misbehave.sys unloaded without freeing 1 pool allocation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0x0000000000000000,0x0000000000000001) DRIVER_VERIFIER_DETECTED_VIOLATION"), std::string::npos);

  // Without the verifier the leak is a notice and the unload succeeds, as on Windows.
  r = Ntbox("load --no-verifier --service leak " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("ntbox: pool leak: 48 bytes, tag 'Leak', allocated at misbehave!DriverEntry+0x"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("unloaded, 1 pool allocation leaked"), std::string::npos) << r.out;

  r = Ntbox("load --service timer_at_unload " + Driver("misbehave.sys"));
  EXPECT_NE(r.out.find("misbehave.sys unloaded with a timer still set (its DPC routine misbehave!TimerDpc"),
            std::string::npos)
      << r.out;
  r = Ntbox("load --service thread_at_unload " + Driver("misbehave.sys"));
  EXPECT_NE(r.out.find("misbehave.sys unloaded with 1 system thread still running (started at "
                       "misbehave!WaitForever"),
            std::string::npos)
      << r.out;
}

// The line of the driver's source that holds text (1-based), for asserting source lines.
int LineOf(const std::string& file, const std::string& text) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(text) != std::string::npos) return n;
  }
  return 0;
}

// Reports name the function and source line from the image's DWARF (the SDK builds with -g),
// including a static function the COFF symbol table lacks, and the outer function's line where
// the compiler expanded a header's inline routine (KeLowerIrql's mov cr8) into it.
TEST(Load, ReportsNameFunctionAndSourceLine) {
  const std::string source = std::string(NTBOX_SOURCE_DIR) + "/tests/drivers/misbehave/misbehave.c";
  Outcome r = Ntbox("load --service null_write " + Driver("misbehave.sys"));
  EXPECT_NE(r.out.find(fmt::format("FAULTING_IP:\nmisbehave!WriteNull+0x{:x} [{} @ {}]", 0xb, source,
                                   LineOf(source, "*g_null = 0x1234;"))),
            std::string::npos)
      << r.out;
  r = Ntbox("load --service lower_in_dpc " + Driver("misbehave.sys"));
  EXPECT_NE(r.out.find("FAULTING_IP:\nmisbehave!LowerInDpc+0x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("[{} @ {}]", source, LineOf(source, "KeLowerIrql(PASSIVE_LEVEL);"))),
            std::string::npos)
      << r.out;
  r = Ntbox("load --service bad_string " + Driver("misbehave.sys"));
  EXPECT_NE(r.out.find("called from misbehave!DriverEntry+0x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("[{} @ {}] (", source, LineOf(source, "RtlInitUnicodeString(&s, (PCWSTR)"))),
            std::string::npos)
      << r.out;
}

// Debug information is driver input: damaged DWARF loses the source lines, never the report (the
// reader runs in a helper process). Each variant overwrites bytes of the debug sections (their long
// names are "/N" in the PE section table) of a copy of misbehave.sys.
TEST(Load, DamagedDebugInformationStillGivesTheReport) {
  auto image = ntbox::pe::PeImage::ParseFile(Driver("misbehave.sys"));
  ASSERT_TRUE(image);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> debug;  // file offset, size
  for (const auto& section : image->sections()) {
    if (section.name.starts_with("/") && section.rawSize) debug.emplace_back(section.rawOffset, section.rawSize);
  }
  ASSERT_FALSE(debug.empty());
  const std::string copy = testing::TempDir() + "damaged_misbehave.sys";
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int variant = 0; variant < 16; ++variant) {
    std::vector<std::uint8_t> bytes = image->file();
    for (int n = 0; n < 8 << (variant % 4); ++n) {
      const auto& [offset, size] = debug[next() % debug.size()];
      bytes[offset + next() % size] = static_cast<std::uint8_t>(next());
    }
    std::ofstream(copy, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
    const Outcome r = Ntbox("load --service null_write " + copy);
    EXPECT_EQ(r.exit, 4) << "variant " << variant << r.err;
    EXPECT_NE(r.out.find("FAULTING_IP:\ndamaged_misbehave!WriteNull"), std::string::npos) << "variant " << variant << r.out;
    EXPECT_NE(r.out.find("*** STOP: 0x0000007E"), std::string::npos) << "variant " << variant << r.out;
  }
  std::filesystem::remove(copy);
}

// Pool freed while the kernel still uses an object inside it.
// KeGenericCallDpc waits for a DPC on every processor: called at DISPATCH_LEVEL by a driver the
// verifier does not watch, that wait could never end, so the machine stops instead of hanging.
TEST(Load, GenericCallAtDispatchStopsRatherThanHangs) {
  const Outcome r = Ntbox("load --no-verifier --service generic_call_at_dispatch " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("KeGenericCallDpc called above APC_LEVEL"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("*** STOP: 0x0000000A (0x0000000000000000,0x0000000000000002,"), std::string::npos) << r.out;
}

TEST(Load, FreeingPoolWithLiveObjectsInIt) {
  Outcome r = Ntbox("load --service free_live_resource " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("pool freed with an ERESOURCE in it (at +0x8) that ExDeleteResourceLite did not delete"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Arg2: "), std::string::npos);
  EXPECT_NE(r.out.find(", the ERESOURCE\n"), std::string::npos) << r.out;
  r = Ntbox("load --service free_live_lookaside " + Driver("misbehave.sys"));
  EXPECT_NE(r.out.find("pool freed with a lookaside list in it (at +0x"), std::string::npos) << r.out;

  // A timer fires into whatever reuses the memory: a stop with or without the verifier, naming the
  // block (parameters 3 and 4) the timer sits in.
  r = Ntbox("load --no-verifier --service free_live_timer " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("pool freed with a timer still set in it (at +0x8)"), std::string::npos) << r.out;

  // Unverified, a forgotten resource or list is the driver's business; the kernel forgets it too.
  for (const char* service : {"free_live_resource", "free_live_lookaside"}) {
    r = Ntbox(std::string("load --no-verifier --service ") + service + " " + Driver("misbehave.sys"));
    EXPECT_EQ(r.exit, 0) << service << r.out << r.err;
  }
}

// Paged pool at DISPATCH_LEVEL is BAD_POOL_CALLER for every driver (0x08 to allocate, 0x09 to
// free, as Windows' pool checks); the verifier makes them its own 0xC4 subcodes (above). A zero-byte
// allocation is legal without the verifier.
TEST(Load, PagedPoolAtDispatchStopsEveryDriver) {
  Outcome r = Ntbox("load --no-verifier --service paged_alloc_at_dispatch " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("*** STOP: 0x000000C2 (0x0000000000000008,0x0000000000000002,0x0000000000000001,"
                       "0x0000000000000040) BAD_POOL_CALLER"),
            std::string::npos)
      << r.out;
  r = Ntbox("load --no-verifier --service paged_free_at_dispatch " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("*** STOP: 0x000000C2 (0x0000000000000009,0x0000000000000002,0x0000000000000001,"),
            std::string::npos)
      << r.out;
  r = Ntbox("load --no-verifier --service zero_alloc " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
}

TEST(Load, SpecialPoolCatchesOverrunsAndUseAfterFree) {
  // A write one past the block's end lands on its guard page: the write (1) is stopped where it
  // happens.
  Outcome r = Ntbox("load --service pool_overrun " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION (d6)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(",0x0000000000000001,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("misbehave!DriverEntry+0x"), std::string::npos) << r.out;

  r = Ntbox("load --service pool_use_after_free " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL (d5)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("special pool: a reference to pool already freed"), std::string::npos) << r.out;

  // A write into the alignment slack cannot fault; the pattern check at free finds it (0x24).
  r = Ntbox("load --service pool_slack_overrun " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 4);
  EXPECT_NE(r.out.find("0x0000000000000000,0x0000000000000024) SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("a write past the end of the 20-byte block 'Slak' (at +0x14)"), std::string::npos) << r.out;

  // Without the verifier the overrun goes unnoticed in normal pool, and the host survives it.
  r = Ntbox("load --no-verifier --service pool_overrun " + Driver("misbehave.sys"));
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
}

TEST(Load, MalformedFilesAreRefusedWithoutCrashing) {
  const std::string original = Slurp(Driver("FirstDriverSample.sys"));
  const std::string path = testing::TempDir() + "/ntbox_malformed.sys";
  auto write = [&path](const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; };

  write(original.substr(0, 700));
  Outcome r = Ntbox("load " + path);
  EXPECT_EQ(r.exit, 3);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error 193"), std::string::npos);

  write("just some text, not a driver");
  r = Ntbox("load " + path);
  EXPECT_EQ(r.exit, 3);
  EXPECT_NE(r.err.find("not a PE image"), std::string::npos) << r.err;

  std::string console = original;
  std::int32_t lfanew;
  std::memcpy(&lfanew, console.data() + 0x3C, 4);
  console[static_cast<std::size_t>(lfanew) + 24 + 68] = 3;  // Subsystem = Windows console
  write(console);
  r = Ntbox("load " + path);
  EXPECT_EQ(r.exit, 3);
  EXPECT_NE(r.err.find("wrong subsystem: the image is a Windows console program"), std::string::npos) << r.err;
  std::remove(path.c_str());
}

TEST(Cli, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(Ntbox("").exit, 2);
  EXPECT_EQ(Ntbox("frobnicate").exit, 2);
  EXPECT_EQ(Ntbox("load").exit, 2);
  const Outcome missing = Ntbox("load /nonexistent/driver.sys");
  EXPECT_EQ(missing.exit, 2);
  EXPECT_NE(missing.err.find("/nonexistent/driver.sys"), std::string::npos);
  const Outcome help = Ntbox("load --help");
  EXPECT_EQ(help.exit, 0);
  EXPECT_NE(help.out.find("Exit status"), std::string::npos);
}

}  // namespace
