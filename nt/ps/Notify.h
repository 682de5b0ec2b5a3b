// Process, thread and image notify routines (PsSetCreateProcessNotifyRoutine(Ex),
// PsSetCreateThreadNotifyRoutine, PsSetLoadImageNotifyRoutine): drivers hear machine processes
// and their threads start and exit, and images load. The routines run at PASSIVE_LEVEL on the
// thread concerned, inside its guarded call, with the kernel lock held.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nt/Types.h"
#include "nt/ps/PsExports.h"
#include "nt/rtl/RtlTypes.h"

namespace ntbox::nt {

struct FILE_OBJECT;

struct PS_CREATE_NOTIFY_INFO {
  SIZE_T Size;
  ULONG Flags;  // FileOpenNameAvailable:1, IsSubsystemProcess:1
  HANDLE ParentProcessId;
  CLIENT_ID CreatingThreadId;
  FILE_OBJECT* FileObject;
  const UNICODE_STRING* ImageFileName;
  const UNICODE_STRING* CommandLine;
  NTSTATUS CreationStatus;  // a driver may set a failure to refuse the process
};
static_assert(sizeof(PS_CREATE_NOTIFY_INFO) == 0x48);
static_assert(offsetof(PS_CREATE_NOTIFY_INFO, ParentProcessId) == 0x10);
static_assert(offsetof(PS_CREATE_NOTIFY_INFO, FileObject) == 0x28);
static_assert(offsetof(PS_CREATE_NOTIFY_INFO, CommandLine) == 0x38);
static_assert(offsetof(PS_CREATE_NOTIFY_INFO, CreationStatus) == 0x40);

struct IMAGE_INFO {
  ULONG Properties;  // ImageAddressingMode:8, SystemModeImage:1, ImageMappedToAllPids:1, ExtendedInfoPresent:1 …
  PVOID ImageBase;
  ULONG ImageSelector;
  SIZE_T ImageSize;
  ULONG ImageSectionNumber;
};
static_assert(sizeof(IMAGE_INFO) == 0x28);
static_assert(offsetof(IMAGE_INFO, ImageSize) == 0x18);

using PCREATE_PROCESS_NOTIFY_ROUTINE = void(NTAPI*)(HANDLE ParentId, HANDLE ProcessId, BOOLEAN Create);
using PCREATE_PROCESS_NOTIFY_ROUTINE_EX = void(NTAPI*)(PVOID Process, HANDLE ProcessId,
                                                       PS_CREATE_NOTIFY_INFO* CreateInfo);
using PCREATE_THREAD_NOTIFY_ROUTINE = void(NTAPI*)(HANDLE ProcessId, HANDLE ThreadId, BOOLEAN Create);
using PLOAD_IMAGE_NOTIFY_ROUTINE = void(NTAPI*)(UNICODE_STRING* FullImageName, HANDLE ProcessId,
                                                IMAGE_INFO* ImageInfo);

NTSTATUS NTAPI PsSetCreateProcessNotifyRoutine(PCREATE_PROCESS_NOTIFY_ROUTINE NotifyRoutine, BOOLEAN Remove);
NTSTATUS NTAPI PsSetCreateProcessNotifyRoutineEx(PCREATE_PROCESS_NOTIFY_ROUTINE_EX NotifyRoutine, BOOLEAN Remove);
NTSTATUS NTAPI PsSetCreateThreadNotifyRoutine(PCREATE_THREAD_NOTIFY_ROUTINE NotifyRoutine);
NTSTATUS NTAPI PsRemoveCreateThreadNotifyRoutine(PCREATE_THREAD_NOTIFY_ROUTINE NotifyRoutine);
NTSTATUS NTAPI PsSetLoadImageNotifyRoutine(PLOAD_IMAGE_NOTIFY_ROUTINE NotifyRoutine);
NTSTATUS NTAPI PsRemoveLoadImageNotifyRoutine(PLOAD_IMAGE_NOTIFY_ROUTINE NotifyRoutine);

namespace ps {

class Process;

// The registered routines of one kernel (all under the kernel lock).
class NotifyRoutines {
 public:
  static constexpr std::size_t kMax = 64;  // Windows' limit per kind
  std::vector<PCREATE_PROCESS_NOTIFY_ROUTINE> process;
  std::vector<PCREATE_PROCESS_NOTIFY_ROUTINE_EX> processEx;
  std::vector<PCREATE_THREAD_NOTIFY_ROUTINE> thread;
  std::vector<PLOAD_IMAGE_NOTIFY_ROUTINE> image;

  // Routines whose code lies in [begin, end) (the unload check).
  std::vector<std::uint64_t> In(std::uint64_t begin, std::uint64_t end) const;
};

// What the kernel calls. Each runs the routines on the calling thread (guarded, kernel lock held).
// A process create returns the failure a driver set in CreationStatus, or STATUS_SUCCESS.
NTSTATUS NotifyProcessCreate(Process& process, ULONG parentId, const std::u16string& imageName,
                             const std::u16string& commandLine);
void NotifyProcessExit(Process& process);
void NotifyThread(ULONG processId, std::uint64_t threadId, bool create);
// A kernel image (processId 0) or a program's image.
void NotifyImageLoad(const std::u16string& fullName, ULONG processId, std::uint64_t base, std::uint64_t size,
                     bool systemImage);

}  // namespace ps
}  // namespace ntbox::nt
