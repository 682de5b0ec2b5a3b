// End to end: the kernel APIs real drivers import, each family exercised by a driver of its own
// as Microsoft's documentation describes its use, loaded into a machine through the CLI.
#include <fstream>
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "NtboxRun.h"

namespace {

using ntbox::test::Contains;
using ntbox::test::Driver;
using ntbox::test::Outcome;

class KernelApiTest : public ntbox::test::MachineFixture {
 protected:
  // Starts the test driver as a service; its debug output.
  std::string StartDriver(const std::string& name) {
    TestSigningOn();
    EXPECT_EQ(Run("sc create " + name + " type= kernel binPath= " + Driver(name + ".sys")).exit, 0);
    const Outcome start = Run("sc start " + name);
    EXPECT_EQ(start.exit, 0) << start.out << start.err;
    return Run("dbgview").out;
  }
  // A driver whose DriverEntry fails on purpose: its debug output.
  std::string StartDriverExpectingFailure(const std::string& name) {
    TestSigningOn();
    EXPECT_EQ(Run("sc create " + name + " type= kernel binPath= " + Driver(name + ".sys")).exit, 0);
    EXPECT_NE(Run("sc start " + name).exit, 0);
    return Run("dbgview").out;
  }
  // Every "NAME ok" line the driver was to print, and no "FAILED".
  static void ExpectChecks(const std::string& log, const std::string& driver, const std::vector<std::string>& checks) {
    for (const auto& check : checks) EXPECT_TRUE(Contains(log, driver + ": " + check + " ok")) << check << "\n" << log;
    EXPECT_FALSE(Contains(log, "FAILED")) << log;
    EXPECT_TRUE(Contains(log, driver + ": done")) << log;
  }
};

TEST_F(KernelApiTest, RtlRegistryHelpers) {
  const std::string log = StartDriver("rtl_registry");
  ExpectChecks(log, "rtl_registry",
               {"RtlCreateRegistryKey needs its parent", "RtlCreateRegistryKey", "RtlCheckRegistryKey present", "RtlCheckRegistryKey absent", "write REG_DWORD",
                "write REG_SZ", "write REG_EXPAND_SZ", "write REG_MULTI_SZ", "write REG_BINARY", "write in a subkey",
                "query DIRECT", "DIRECT REG_DWORD", "DIRECT REG_SZ allocated", "DIRECT REG_BINARY", "DIRECT default",
                "DIRECT REG_EXPAND_SZ expanded", "DELETE", "DELETE removed the value, REQUIRED",
                "DIRECT into a small buffer", "TYPECHECK mismatch", "query routines", "REG_MULTI_SZ string by string",
                "every value", "TOPKEY", "NOVALUE", "SUBKEY", "a routine's failure", "absent key", "absent key, OPTIONAL",
                "RtlDeleteRegistryValue", "RtlDeleteRegistryValue again", "MmGetSystemRoutineAddress"});
  // What the driver wrote is the machine's registry, as reg shows it.
  const Outcome reg = Run("reg query \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\rtl_registry\\Parameters\"");
  EXPECT_TRUE(Contains(reg.out, "Number    REG_DWORD    0x2a")) << reg.out;
  EXPECT_TRUE(Contains(reg.out, "Text    REG_SZ    hello")) << reg.out;
  EXPECT_FALSE(Contains(reg.out, "Gone")) << reg.out;
}

// A program's request checked in its own context, then read from the System process attached to it.
TEST_F(KernelApiTest, ProcessesFromDrivers) {
  StartDriver("process_api");
  const Outcome app = Run("run " + Driver("procapi_app.exe"));
  EXPECT_EQ(app.exit, 0) << app.out << app.err;
  EXPECT_TRUE(Contains(app.out, "the driver read 33 bytes: a secret in the program's memory")) << app.out;
  ExpectChecks(Run("dbgview").out, "process_api",
               {"PsGetCurrentProcessId", "IoGetRequestorProcessId", "IoGetRequestorProcess", "PsGetThreadProcessId",
                "PsLookupProcessByProcessId", "PsGetProcessId", "PsGetProcessImageFileName",
                "PsGetProcessSectionBaseAddress", "PsGetProcessInheritedFromUniqueProcessId",
                "PsLookupProcessByProcessId of no process", "PsInitialSystemProcess", "ZwOpenProcess",
                "ObReferenceObjectByHandle of it", "work item in System", "attached", "detached"});
}

// Named objects from a driver: its own object directory, a mutant, a semaphore and a timer in it by
// name, a duplicated handle's name, the driver object by name and its name back.
TEST_F(KernelApiTest, NamedObjectsFromDrivers) {
  ExpectChecks(StartDriver("object_api"), "object_api",
               {"ZwCreateDirectoryObject", "ZwOpenDirectoryObject", "ZwCreateMutant", "ZwOpenMutant", "ZwReleaseMutant",
                "ZwCreateSemaphore", "ZwOpenSemaphore", "ZwReleaseSemaphore", "ZwReleaseSemaphore past its maximum",
                "ZwCreateTimer", "ZwOpenTimer", "ZwSetTimer", "the timer signals", "ZwCancelTimer", "ZwDuplicateObject",
                "ZwQueryObject's name", "ObReferenceObjectByName", "ObReferenceObjectByName of another type",
                "ObReferenceObjectByName of nothing", "ObQueryNameString", "ObQueryNameString into too little",
                "ZwQueryInformationProcess", "ZwCreateEvent with OBJ_PERMANENT", "a permanent name outlives its handles",
                "ZwMakeTemporaryObject", "a temporary name goes with its last handle", "MmGetSystemRoutineAddress"});
}

// Version checks as drivers write them (VER_SET_CONDITION), UUIDs, the active processors' mask.
TEST_F(KernelApiTest, VersionChecksUuidsAndProcessors) {
  // The service misc_api loads and unloads with ZwLoadDriver/ZwUnloadDriver.
  EXPECT_EQ(Run("sc create misc_target type= kernel binPath= " + Driver("FirstDriverSample.sys")).exit, 0);
  ExpectChecks(StartDriver("misc_api"), "misc_api",
               {"RtlVerifyVersionInfo: Windows 10 or later", "RtlVerifyVersionInfo: this very version",
                "RtlVerifyVersionInfo: a later build", "RtlVerifyVersionInfo: a later major version",
                "RtlVerifyVersionInfo: the NT platform", "RtlVerifyVersionInfo: no type", "ExUuidCreate",
                "ExUuidCreate twice", "KeQueryActiveProcessors", "ZwLoadDriver of no service", "ZwLoadDriver",
                "ZwLoadDriver of a loaded driver", "ZwUnloadDriver", "ZwUnloadDriver of an unloaded driver"});
  // DriverEntry and DriverUnload of the loaded driver ran; sc sees it stopped again.
  const std::string log = Run("dbgview").out;
  EXPECT_TRUE(Contains(log, "This is my first sample driver")) << log;
  EXPECT_TRUE(Contains(log, "This driver unloaded")) << log;
  EXPECT_TRUE(Contains(Run("sc query misc_target").out, "STOPPED"));
  // A program loads it with NtLoadDriver once it enables SeLoadDriverPrivilege.
  const Outcome app = Run("run " + Driver("loaddrv_app.exe"));
  EXPECT_EQ(app.exit, 0) << app.out << app.err;
  for (const char* check : {"NtLoadDriver without SeLoadDriverPrivilege", "NtLoadDriver", "NtUnloadDriver"}) {
    EXPECT_TRUE(Contains(app.out, std::string("loaddrv_app: ") + check + " ok")) << check << "\n" << app.out;
  }
}

// Requests a program sends wait in the device queue behind the current one, start in arrival order
// or by key, and one is cancelled while queued.
TEST_F(KernelApiTest, DeviceQueuesAndStartIo) {
  ExpectChecks(StartDriver("start_io"), "start_io",
               {"KeInitializeDeviceQueue", "KeInsertDeviceQueue into an idle queue starts at once",
                "KeInsertDeviceQueue into a busy queue", "KeRemoveEntryDeviceQueue",
                "KeRemoveEntryDeviceQueue of an entry not queued", "KeRemoveDeviceQueue in order",
                "KeRemoveDeviceQueue of an empty queue idles it", "KeRemoveByKeyDeviceQueueIfBusy of an idle queue",
                "KeRemoveByKeyDeviceQueue: the first key at least the one asked",
                "KeRemoveByKeyDeviceQueue: none that large, the first",
                "KeInsertByKeyDeviceQueue: ascending, equal keys in arrival order",
                "KeRemoveByKeyDeviceQueueIfBusy of an empty busy queue", "MmGetSystemRoutineAddress",
                "IoCreateDevice initializes the device queue"});
  const Outcome app = Run("run " + Driver("startio_app.exe"));
  EXPECT_EQ(app.exit, 0) << app.out << app.err;
  EXPECT_TRUE(Contains(app.out, "startio_app: 0 failures")) << app.out;
  EXPECT_FALSE(Contains(app.out, "FAILED")) << app.out;
  for (const char* check : {"the cancelled request ends ERROR_OPERATION_ABORTED", "the first request completes first",
                            "the third request completes second", "an interrupt with no current request",
                            "IoStartNextPacketByKey order", "StartIo starting the next itself completes them all",
                            "DeferredStartIo: StartIo never nested", "the cancel routine ran once"}) {
    EXPECT_TRUE(Contains(app.out, std::string("startio_app: ") + check + " ok")) << check << "\n" << app.out;
  }
}

// Affinity, calls on every processor, the kernel stack, quota pool, allocated timers, bitmaps.
TEST_F(KernelApiTest, AffinityStacksQuotaPoolTimersAndBitmaps) {
  ExpectChecks(StartDriver("runtime_api"), "runtime_api",
               {"KeSetSystemAffinityThread runs on each processor", "KeRevertToUserAffinityThread",
                "KeSetSystemAffinityThreadEx: none before", "KeSetSystemAffinityThreadEx nested: the outer set",
                "KeSetSystemAffinityThreadEx: on the last processor", "KeRevertToUserAffinityThreadEx",
                "KeSetSystemGroupAffinityThread", "KeRevertToUserGroupAffinityThread",
                "KeGenericCallDpc on every processor", "KeGenericCallDpc at DISPATCH_LEVEL",
                "KeSignalCallDpcSynchronize waits for all", "KeSignalCallDpcSynchronize: TRUE on one processor a barrier",
                "KeIpiGenericCall on every processor", "KeIpiGenericCall at IPI_LEVEL",
                "KeIpiGenericCall returns this processor's result", "KeIpiGenericCall restores IRQL and processor",
                "IoGetStackLimits brackets the stack", "IoGetRemainingStackSize", "IoGetInitialStack",
                "a fault beside an IRQL read reaches __except",
                "KeExpandKernelStackAndCallout", "KeExpandKernelStackAndCallout beyond the maximum",
                "KeExpandKernelStackAndCalloutEx", "ExAllocatePoolWithQuotaTag", "ExAllocatePoolWithQuota",
                "ExAllocatePoolWithQuotaTag fails instead of raising", "ExAllocatePoolWithQuotaTag raises on failure",
                "ExAllocatePool2 with POOL_FLAG_RAISE_ON_FAILURE raises",
                "ExAllocateTimer refuses HIGH_RESOLUTION with NO_WAKE", "ExSetTimer one-shot fires its callback",
                "ExTimerCallback at DISPATCH_LEVEL with its timer", "ExDeleteTimer of an expired timer",
                "ExSetTimer periodic", "ExCancelTimer of a periodic timer", "ExCancelTimer again",
                "ExDeleteTimer cancels a set timer", "ExDeleteTimer from its callback", "EX_TIMER_NOTIFICATION is waitable",
                "KeSetCoalescableTimer", "RtlFindMostSignificantBit", "RtlFindLeastSignificantBit", "RtlClearAllBits",
                "RtlSetBits across a ULONG", "RtlFindClearBitsAndSet after the hint", "RtlFindClearBits wraps to the start",
                "RtlFindClearBits with no room", "RtlFindSetBitsAndClear", "RtlSetBit, RtlClearBit, RtlTestBit",
                "bits past the bitmap's size untouched", "MmGetSystemRoutineAddress"});
}

// A driver's object callbacks take rights out of a program's handles to its own process and thread;
// without /INTEGRITYCHECK the driver may not register them.
TEST_F(KernelApiTest, ObjectCallbacksAndThreadLookups) {
  const std::string refused = StartDriverExpectingFailure("object_callbacks_plain");
  EXPECT_TRUE(Contains(refused, "object_callbacks: ObRegisterCallbacks without /INTEGRITYCHECK ok")) << refused;
  ExpectChecks(StartDriver("object_callbacks"), "object_callbacks",
               {"ObGetFilterVersion", "ObRegisterCallbacks with a wrong version", "ObRegisterCallbacks for files",
                "ObRegisterCallbacks", "ObRegisterCallbacks at a taken altitude", "PsLookupThreadByThreadId",
                "PsGetThreadId", "PsGetThreadProcessId of a system thread", "IoThreadToProcess",
                "PsLookupThreadByThreadId of no thread", "a kernel handle reaches the routines flagged",
                "MmGetSystemRoutineAddress"});
  const Outcome app = Run("run " + Driver("obcb_app.exe"));
  EXPECT_EQ(app.exit, 0) << app.out << app.err;
  EXPECT_FALSE(Contains(app.out, "FAILED")) << app.out;
  for (const char* check : {"the driver finds the caller's thread by id", "PsGetThreadProcessId is this process",
                            "IoThreadToProcess of the request's thread",
                            "OpenProcess: PROCESS_TERMINATE and PROCESS_VM_WRITE taken away", "TerminateProcess is denied",
                            "DuplicateHandle: rights taken away", "OpenThread: THREAD_TERMINATE taken away",
                            "OpenThread of no thread", "pre- and post-operations for the duplicate",
                            "GrantedAccess in the post-operations", "CallContext reaches the post-operation"}) {
    EXPECT_TRUE(Contains(app.out, std::string("obcb_app: ") + check + " ok")) << check << "\n" << app.out;
  }
  // Its DriverUnload unregisters them: processes and handles made afterwards call no unloaded code.
  EXPECT_EQ(Run("sc stop object_callbacks").exit, 0);
  const Outcome after = Run("run " + Driver("process_app.exe"));
  EXPECT_EQ(after.exit, 0) << after.out << after.err;
}

// Registry callbacks hear a program's Win32 registry calls, a driver's Zw calls and `ntbox reg`:
// the guard refuses, redirects and answers; with the driver stopped, nothing is refused.
TEST_F(KernelApiTest, RegistryCallbacks) {
  ExpectChecks(StartDriver("reg_callbacks"), "reg_callbacks",
               {"CmGetCallbackVersion", "CmRegisterCallbackEx", "CmRegisterCallbackEx at a taken altitude",
                "CmRegisterCallbackEx with a bad altitude", "CmRegisterCallback", "CmUnRegisterCallback of no cookie",
                "registry callbacks are limited to 100",
                "ZwCreateKey of the watched key", "the guard blocks a driver's ZwSetValueKey", "and lets others through",
                "MmGetSystemRoutineAddress"});
  const Outcome app = Run("run " + Driver("regcb_app.exe"));
  EXPECT_EQ(app.exit, 0) << app.out << app.err;
  EXPECT_FALSE(Contains(app.out, "FAILED")) << app.out;
  for (const char* check : {"a value the guard refuses: ERROR_ACCESS_DENIED", "the refused value was never written",
                            "the redirected key is the target", "a value the guard answers itself",
                            "a key the guard keeps: ERROR_ACCESS_DENIED", "the lower routine heard a post for every pre",
                            "object contexts reach later notifications", "call contexts reach the post-notification"}) {
    EXPECT_TRUE(Contains(app.out, std::string("regcb_app: ") + check + " ok")) << check << "\n" << app.out;
  }
  const std::string key = "\"HKLM\\SOFTWARE\\RegCbTest\"";
  const Outcome refused = Run("reg add " + key + " /v Blocked /t REG_DWORD /d 3 /f");
  EXPECT_EQ(refused.exit, 1) << refused.out << refused.err;
  EXPECT_TRUE(Contains(refused.err, "ERROR: Access is denied.")) << refused.err;
  EXPECT_EQ(Run("reg add " + key + " /v FromReg /d hi /f").exit, 0);
  EXPECT_EQ(Run("reg delete \"HKLM\\SOFTWARE\\RegCbTest\\Protected\" /f").exit, 1);
  const Outcome query = Run("reg query " + key);
  EXPECT_TRUE(Contains(query.out, "FromDriver    REG_DWORD    0x7")) << query.out;
  EXPECT_TRUE(Contains(query.out, "FromReg    REG_SZ    hi")) << query.out;
  EXPECT_FALSE(Contains(query.out, "Blocked")) << query.out;
  EXPECT_EQ(Run("sc stop reg_callbacks").exit, 0);
  EXPECT_EQ(Run("reg add " + key + " /v Blocked /t REG_DWORD /d 3 /f").exit, 0);
  EXPECT_EQ(Run("reg delete " + key + " /f").exit, 0);
}

// ETW the Windows way: a session started before the provider registers enables it while it
// registers; events pass the session's level and keywords; a classic (WPP) provider gets its
// logger handle; stopping the session disables both.
TEST_F(KernelApiTest, EtwSessionsAndWpp) {
  TestSigningOn();
  const Outcome start = Run("tracelog -start Early -guid '#8e9f5a3c-1b2d-4c6e-9f01-23456789abcd' -level 4 -flag 0x1");
  EXPECT_EQ(start.exit, 0) << start.out << start.err;
  EXPECT_TRUE(Contains(start.out, "Logger Started...")) << start.out;
  EXPECT_EQ(Run("tracelog -start Early -guid '#8e9f5a3c-1b2d-4c6e-9f01-23456789abcd'").exit, 1) << "a second Early";
  EXPECT_EQ(Run("tracelog -start Bad -guid '#not-a-guid'").exit, 2);
  EXPECT_EQ(Run("sc create etw_provider type= kernel binPath= " + Driver("etw_provider.sys")).exit, 0);
  EXPECT_EQ(Run("sc start etw_provider").exit, 0);
  EXPECT_EQ(Run("tracelog -enable Early -guid '{5B0E7C11-2A3B-4D5E-8F90-A1B2C3D4E5F6}'").exit, 0);
  EXPECT_EQ(Run("ioctl '\\\\.\\EtwProvider' 0x223004").exit, 0);
  const Outcome events = Run("tracefmt Early");
  EXPECT_EQ(events.exit, 0) << events.err;
  // The level-4, keyword-1 event with its two fields; the verbose and keyword-2 ones filtered out.
  EXPECT_TRUE(Contains(events.out, "[NtboxEtwTest] Id 1 Level 4 Keyword 0x1 Task 0 Opcode 0 42 \"hello\"")) << events.out;
  EXPECT_TRUE(Contains(events.out, "[NtboxEtwTest] Id 0 Level 4 Keyword 0x1 Task 0 Opcode 0 \"a plain string\""))
      << events.out;
  EXPECT_FALSE(Contains(events.out, "Id 2 ")) << events.out;
  EXPECT_FALSE(Contains(events.out, "Id 3 ")) << events.out;
  EXPECT_TRUE(Contains(events.out, "[WPP 0d1e2f30-4152-6374-8596-a7b8c9daebfc #10] 42 \"text\"")) << events.out;
  EXPECT_TRUE(Contains(events.out, "Total Events Processed: 3")) << events.out;
  // With the driver's TMF (what tracepdb extracts), the WPP message is formatted: by file or folder.
  const std::string tmfDir = std::string(NTBOX_SOURCE_DIR) + "/tests/drivers/etw_provider";
  for (const std::string option : {"-tmf " + tmfDir + "/etw_provider.tmf", "-p " + tmfDir}) {
    const Outcome formatted = Run("tracefmt Early " + option);
    EXPECT_EQ(formatted.exit, 0) << formatted.err;
    EXPECT_TRUE(Contains(formatted.out, "[etw_provider]answer 42 (0x002A) text [text  ] from etw_provider line "
                                        "etw_provider_c105\n")) << formatted.out;
    EXPECT_TRUE(Contains(formatted.out, "[NtboxEtwTest] Id 1 Level 4")) << "manifest events stay as they were";
  }
  const std::string badTmf = (dir_ / "bad.tmf").string();
  {
    std::ofstream(badTmf) << "0d1e2f30-4152-6374-8596-a7b8c9daebfc m\n#typev x 10 \"unterminated\n";
  }
  const Outcome bad = Run("tracefmt Early -tmf " + badTmf);
  EXPECT_EQ(bad.exit, 1);
  EXPECT_TRUE(Contains(bad.err, "bad.tmf:2: #typev's format has no closing quote")) << bad.err;
  EXPECT_EQ(Run("tracefmt Early -tmf /nonexistent.tmf").exit, 1);
  EXPECT_EQ(Run("tracefmt Early -bogus").exit, 2);
  EXPECT_TRUE(Contains(Run("tracelog -l").out, "Events Written:         3"));
  const Outcome stop = Run("tracelog -stop Early");
  EXPECT_EQ(stop.exit, 0) << stop.out << stop.err;
  EXPECT_EQ(Run("tracefmt Early").exit, 1);
  const std::string log = Run("dbgview").out;
  for (const char* line : {"etw_provider: enabled level 4 keywords 0x1 all 0x0", "etw_provider: registered",
                           "etw_provider: WPP enabled logger 1 level 4 flags 0x1", "etw_provider: fired, 1 enabled",
                           "etw_provider: disabled", "etw_provider: WPP disabled"}) {
    EXPECT_TRUE(Contains(log, line)) << line << "\n" << log;
  }
  // The enable callback ran while the provider registered, before DriverEntry went on.
  EXPECT_LT(log.find("etw_provider: enabled level 4"), log.find("etw_provider: registered"));
  // A real-time session shows each event in dbgview as it is written.
  EXPECT_EQ(Run("tracelog -start Live -rt -guid '#8e9f5a3c-1b2d-4c6e-9f01-23456789abcd' -level 5").exit, 0);
  EXPECT_EQ(Run("ioctl '\\\\.\\EtwProvider' 0x223004").exit, 0);
  const std::string live = Run("dbgview").out;
  EXPECT_TRUE(Contains(live, "[ETW Live] [")) << live;
  EXPECT_TRUE(Contains(live, "[NtboxEtwTest] Id 2 Level 5 Keyword 0x1 Task 0 Opcode 0 42 \"hello\"")) << live;
  EXPECT_EQ(Run("tracelog -stop Live").exit, 0);
  // A session keeps what fits in its 64 MiB; 3000 events of 32 KiB lose the oldest, counted.
  EXPECT_EQ(Run("tracelog -start Flood -guid '#8e9f5a3c-1b2d-4c6e-9f01-23456789abcd' -level 4").exit, 0);
  EXPECT_EQ(Run("ioctl '\\\\.\\EtwProvider' 0x223008").exit, 0);
  const Outcome flood = Run("tracelog -q Flood");
  EXPECT_TRUE(Contains(flood.out, "Events Written:         3000")) << flood.out;
  const std::regex lost("Events Lost:\\s+([0-9]+)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(flood.out, m, lost)) << flood.out;
  EXPECT_GT(std::stoi(m[1]), 900) << flood.out;
  EXPECT_EQ(Run("tracelog -stop Flood").exit, 0);
  EXPECT_EQ(Run("sc stop etw_provider").exit, 0);
}

// A manifest-based provider (etw_manifest.man compiled into the driver by the SDK's ntbox-mc):
// tracefmt decodes each event by the manifest the image carries, as TDH does on Windows.
TEST_F(KernelApiTest, EtwManifestDecoding) {
  TestSigningOn();
  ASSERT_EQ(Run("tracelog -start M -guid '#3C1F7A52-9D4E-4B8A-A6C1-0E2F4D6B8A10' -level 5 -flag 0xff").exit, 0);
  ASSERT_EQ(Run("tracelog -start Rt -rt -guid '#3C1F7A52-9D4E-4B8A-A6C1-0E2F4D6B8A10' -level 4").exit, 0);
  EXPECT_EQ(Run("sc create etw_manifest type= kernel binPath= " + Driver("etw_manifest.sys")).exit, 0);
  const Outcome start = Run("sc start etw_manifest");
  ASSERT_EQ(start.exit, 0) << start.out << start.err;
  const Outcome events = Run("tracefmt M");
  EXPECT_EQ(events.exit, 0) << events.err;
  for (const char* line :
       {"[Ntbox-Test-Manifest] Id 1 Level 4 Keyword 0x1 Task Io Opcode Read FileName=\"\\??\\C:\\data\\file.bin\" "
        "Offset=0x2000 Length=512 Status=0xC0000011 \"Read 512 bytes at 0x2000 from \\??\\C:\\data\\file.bin: 0xC0000011\"",
        "[Ntbox-Test-Manifest] Id 2 Level 5 Keyword 0x2 Task Config Opcode win:Info Name=\"verbose mode\" Enabled=true "
        "Delta=-7 Id={01234567-89ab-cdef-0123-456789abcdef} Tag=deadbeef",
        "[Ntbox-Test-Manifest] Id 3 Level 3 Keyword 0x1 Task 0 Opcode win:Info \"Nothing to report\"",
        // Data that does not fit the template is shown as it came.
        "[Ntbox-Test-Manifest] Id 2 Level 5 Keyword 0x2 Task 2 Opcode 0 5"}) {
    EXPECT_TRUE(Contains(events.out, line)) << line << "\n" << events.out;
  }
  EXPECT_TRUE(Contains(events.out, "Total Events Processed: 4")) << events.out;
  // A real-time session decodes the same way where dbgview shows it.
  const std::string live = Run("dbgview").out;
  EXPECT_TRUE(Contains(live, "[ETW Rt] [")) << live;
  EXPECT_TRUE(Contains(live, "Task Io Opcode Read FileName=")) << live;
  EXPECT_FALSE(Contains(live, "Id 2 Level 5")) << "level 5 is above Rt's level 4\n" << live;
  EXPECT_EQ(Run("sc stop etw_manifest").exit, 0);
  // The events keep their decoding after the driver is gone.
  EXPECT_TRUE(Contains(Run("tracefmt M").out, "Task Io Opcode Read FileName="));
  EXPECT_EQ(Run("tracelog -stop M").exit, 0);
  EXPECT_EQ(Run("tracelog -stop Rt").exit, 0);
}

// IoCreateDeviceSecure (the SDK's wdmsec): a program's open meets each device's DACL.
TEST_F(KernelApiTest, IoCreateDeviceSecure) {
  ExpectChecks(StartDriver("secure_device"), "secure_device",
               {"IoCreateDeviceSecure with the documented SDDL strings", "IoCreateDeviceSecure with malformed SDDL"});
  const Outcome app = Run("run " + Driver("secdev_app.exe"));
  EXPECT_EQ(app.exit, 0) << app.out << app.err;
  for (const char* check : {"SecKernelOnly read", "SecSysAll read", "SecAdmAll read-write", "SecAdmRx read",
                            "SecAdmRx read-write"}) {
    EXPECT_TRUE(Contains(app.out, std::string("secdev_app: ") + check + " ok")) << check << "\n" << app.out;
  }
  EXPECT_EQ(Run("sc stop secure_device").exit, 0);
}

}  // namespace
