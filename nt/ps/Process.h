// A process of the machine: its id, handle table, user address space and the EPROCESS object
// drivers receive from PsGetCurrentProcess/IoGetCurrentProcess. The System process has no user
// space and holds the kernel handles.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>
#include <string>

#include "nt/Types.h"
#include "support/HostFiles.h"
#include "nt/mm/UserSpace.h"
#include "nt/ob/Object.h"
#include "pe/PeLoader.h"
#include "support/Result.h"

namespace ntbox::nt::ps {

class ThreadHost;

constexpr std::size_t kProcessObjectSize = 0xA40;  // EPROCESS on Windows 10 x64; opaque to drivers

// What a process object keeps of its process, in the EPROCESS body past KPROCESS's dispatcher
// header (a part drivers treat as opaque): a handle held after the process has ended still tells
// its id, parent, exit status and times.
struct ProcessRecord {
  ULONG id;
  ULONG parentId;
  NTSTATUS exitStatus;  // STATUS_PENDING while it runs
  ULONG reserved;
  std::int64_t createTime, exitTime;  // system time, 100 ns units
  std::int64_t userTime, kernelTime;  // once it has ended
  std::uint64_t peb;
  std::uint64_t sectionBase;   // its image's base (PsGetProcessSectionBaseAddress)
  char imageFileName[16];      // its image's file name, 14 characters at most (PsGetProcessImageFileName)
};
constexpr std::size_t kProcessRecordOffset = 0x900;
static_assert(kProcessRecordOffset + sizeof(ProcessRecord) <= kProcessObjectSize);
// nullptr when body is not a process object.
ProcessRecord* RecordOf(void* processObject);

class Process {
 public:
  static Result<std::unique_ptr<Process>> Create(std::string imageName);
  static std::unique_ptr<Process> CreateSystem();
  // Closes what is still open (drivers get IRP_MJ_CLEANUP and IRP_MJ_CLOSE: run it attached and
  // guarded) and frees the user space.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  ULONG id() const { return id_; }
  const std::string& imageName() const { return imageName_; }
  ob::HandleTable& handles() { return handles_; }
  mm::UserSpace* space() { return space_.get(); }
  void* object() const { return object_; }  // the EPROCESS body
  // The live process a process object is; nullptr once it has ended.
  static Process* FromObject(const void* body);
  // A live process's object by id (the System process's too), referenced; nullptr when there is none.
  static void* ReferenceById(ULONG id);
  // The ids of the live processes (the debugger's !process), in order.
  static std::vector<ULONG> LiveIds();
  ULONG parentId() const;
  void SetParent(ULONG parentId);
  // The process has ended with status: its object records how and when, is signalled (waits on
  // it are satisfied) and no longer leads to this Process. Under the kernel lock.
  void End(NTSTATUS status);
  // Closes every handle now (process exit), newest first.
  void CloseAllHandles();
  // For a process abandoned when the machine stopped (its handles cannot close: no driver code runs
  // again): its address space goes, once the kernel's threads have, so the slot serves the next
  // machine of this host process (a test program boots hundreds).
  void DropSpace();
  // What the process's creator recorded for NtQueryInformationProcess: its PEB and its image's
  // SECTION_IMAGE_INFORMATION.
  void SetPeb(std::uint64_t peb);
  std::uint64_t peb() const;
  void SetSectionBase(std::uint64_t base);
  std::array<std::uint8_t, 0x40> imageInformation{};
  // Its primary token (se/Token.cpp), made when first asked for; the process holds a reference.
  void* token = nullptr;
  // Who runs its program's threads (user/Program); nullptr for the System process.
  ThreadHost* threadHost = nullptr;
  // Its console (user::Console): what \Device\ConDrv's CurrentIn, CurrentOut and Console names open
  // for it; nullptr when it has none.
  std::shared_ptr<void> console;
  // Who opens host files (Z:) for its program: the client of the `ntbox run` that started it or
  // its creator (support/HostFiles.h); nullptr: the server opens them itself.
  std::shared_ptr<HostFileOpener> hostFiles;
  // GetProcessTimes: its creation (system time) and the CPU time of its threads, the ended ones
  // summed, the live ones by host thread.
  std::int64_t createTime = 0;
  std::mutex timesMutex;
  std::set<int> liveThreads;
  std::int64_t endedUserTime = 0, endedKernelTime = 0;
  // Images mapped into the process by NtMapViewOfSection, by base.
  std::map<std::uint64_t, std::unique_ptr<pe::LoadedImage>>& imageViews() { return imageViews_; }

 private:
  Process(std::string imageName, ULONG id, std::unique_ptr<mm::UserSpace> space);
  // Out of the table of live processes (NtOpenProcess finds it no more).
  void Unlist();
  std::string imageName_;
  ULONG id_;
  std::unique_ptr<mm::UserSpace> space_;
  void* object_ = nullptr;
  ob::HandleTable handles_;
  std::map<std::uint64_t, std::unique_ptr<pe::LoadedImage>> imageViews_;
};

// The process the calling thread runs for: its request's process, or System.
Process& CurrentProcess();
// The live process a service's ProcessHandle names (NtCurrentProcess() or a handle to a process
// object, with access); nullptr for any other handle or a process that has ended. The pointer is
// good under the kernel lock.
Process* ProcessOfHandle(HANDLE handle, ACCESS_MASK access = 0);

// Generic and implied rights as a handle to a process gets them (GENERIC_ALL: all; a right to
// query: the limited query too).
ACCESS_MASK MapProcessAccess(ACCESS_MASK access);

// Process access rights.
constexpr ACCESS_MASK PROCESS_TERMINATE = 0x1, PROCESS_VM_OPERATION = 0x8, PROCESS_VM_READ = 0x10,
                      PROCESS_VM_WRITE = 0x20, PROCESS_DUP_HANDLE = 0x40, PROCESS_QUERY_INFORMATION = 0x400,
                      PROCESS_QUERY_LIMITED_INFORMATION = 0x1000, PROCESS_ALL_ACCESS = 0x1FFFFF;

}  // namespace ntbox::nt::ps
