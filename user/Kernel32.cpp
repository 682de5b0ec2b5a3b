// kernel32.dll for the machine's programs: processes, console, files and devices (through the
// I/O manager), events and waits, memory, time, strings. Errors are set as Windows sets them,
// NTSTATUS → Win32 through RtlNtStatusToDosError.
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "nt/Status.h"
#include "nt/io/IoServices.h"
#include "nt/io/Overlapped.h"
#include "nt/ke/KeExports.h"
#include "nt/ke/KeTypes.h"
#include "nt/ke/Thread.h"
#include "nt/ob/Object.h"
#include "nt/rtl/Win32Error.h"
#include "user/Program.h"
#include "user/UserExports.h"
#include "user/Win32Types.h"
#include "support/Text.h"
#include "user/CodePage.h"

namespace ntbox::user::k32 {
namespace {

Program& P() { return Program::Current(); }

constexpr std::uint32_t kTebLastError = 0x68;
constexpr std::uint32_t kTebTlsSlots = 0x1480;
constexpr DWORD kTlsSlotCount = 64;
// Console handles: the values XP-era consoles used (not multiples of 4, so never a kernel handle).
constexpr std::uint64_t kConsoleIn = 3, kConsoleOut = 7, kConsoleErr = 11;
// What GetModuleHandle returns for ntbox's own DLLs.
constexpr std::uint64_t kKernel32Module = 0x7FFA00000000ull, kMsvcrtModule = 0x7FFA10000000ull;

void SetError(DWORD e) { std::memcpy(reinterpret_cast<void*>(P().teb() + kTebLastError), &e, 4); }
DWORD GetError() {
  DWORD e;
  std::memcpy(&e, reinterpret_cast<const void*>(P().teb() + kTebLastError), 4);
  return e;
}
BOOL FailWith(DWORD e) {
  SetError(e);
  return 0;
}
BOOL FailStatus(nt::NTSTATUS s) { return FailWith(nt::RtlNtStatusToDosError(s)); }

int ConsoleFd(HANDLE h) {
  switch (reinterpret_cast<std::uint64_t>(h)) {
    case kConsoleIn: return 0;
    case kConsoleOut: return 1;
    case kConsoleErr: return 2;
    default: return -1;
  }
}


// \\.\X → \??\X; other Win32 names are paths, which the machine's devices do not have yet.
std::u16string DeviceNtName(const std::string& win32) {
  if (win32.size() > 4 && (win32.compare(0, 4, "\\\\.\\") == 0 || win32.compare(0, 4, "//./") == 0)) {
    return u"\\??\\" + nt::ob::Widen(win32.substr(4));
  }
  return {};
}

std::uint64_t NowNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// A Win32 timeout in milliseconds (INFINITE: none) as a deadline on the monotonic clock.
class Timeout {
 public:
  explicit Timeout(DWORD ms) : infinite_(ms == INFINITE), deadline_(NowNs(CLOCK_MONOTONIC) + std::uint64_t{ms} * 1000000ull) {}
  bool infinite() const { return infinite_; }
  // The time left, or false once it has passed.
  bool Left(timespec& left) const {
    const std::uint64_t now = NowNs(CLOCK_MONOTONIC);
    if (now >= deadline_) return false;
    left.tv_sec = static_cast<time_t>((deadline_ - now) / 1000000000ull);
    left.tv_nsec = static_cast<long>((deadline_ - now) % 1000000000ull);
    return true;
  }

 private:
  bool infinite_;
  std::uint64_t deadline_;
};

// Sleeps for ms (INFINITE: forever) unless the program is asked to end.
void SleepMs(DWORD ms) {
  const Timeout timeout(ms);
  for (;;) {
    cpu::CheckTermination();
    timespec rel{3600, 0};
    if (!timeout.infinite() && !timeout.Left(rel)) return;
    nanosleep(&rel, nullptr);
  }
}

nt::KEVENT* EventOf(HANDLE h, void** body) {
  auto entry = P().process().handles().Reference(reinterpret_cast<std::uint64_t>(h));
  if (!entry) return nullptr;
  if (nt::ob::HeaderOf(entry->body)->type != &nt::ob::EventType()) {
    nt::ob::DereferenceObject(entry->body);
    return nullptr;
  }
  *body = entry->body;
  return static_cast<nt::KEVENT*>(entry->body);
}

// Waits on the event's signal state (the futex word KeSetEvent wakes), ending early when the
// program is asked to end.
DWORD WaitEvent(nt::KEVENT* e, DWORD ms) {
  std::atomic_ref<nt::LONG> state(e->Header.SignalState);
  const Timeout timeout(ms);
  for (;;) {
    nt::LONG s = state.load();
    if (s != 0) {
      if (e->Header.Type == 0 /* notification */ || state.compare_exchange_strong(s, 0)) return WAIT_OBJECT_0;
      continue;
    }
    timespec rel{};
    const timespec* relative = nullptr;
    if (!timeout.infinite()) {
      if (!timeout.Left(rel)) return WAIT_TIMEOUT;
      relative = &rel;
    }
    syscall(SYS_futex, &e->Header.SignalState, FUTEX_WAIT_PRIVATE, 0, relative, nullptr, 0);
    cpu::CheckTermination();
  }
}

struct OVERLAPPED {
  std::uint64_t Internal;
  std::uint64_t InternalHigh;
  std::uint64_t Offset;  // Offset, OffsetHigh
  HANDLE hEvent;
};
static_assert(sizeof(OVERLAPPED) == 32);

// A synchronous handle given an OVERLAPPED: Windows completes the request before returning and
// still records its status there and signals the event.
void CompleteOverlapped(OVERLAPPED* o, const nt::io::IoStatus& s) {
  if (!o) return;
  o->Internal = static_cast<std::uint32_t>(s.status);
  o->InternalHigh = s.information;
  if (o->hEvent) {
    void* body = nullptr;
    if (nt::KEVENT* e = EventOf(o->hEvent, &body)) {
      nt::KeSetEvent(e, 0, 0);
      nt::ob::DereferenceObject(body);
    }
  }
}

BOOL IoResultToBool(const nt::io::IoStatus& s, DWORD* transferred) {
  if (transferred) *transferred = static_cast<DWORD>(s.information);
  if (s.status < 0) return FailStatus(s.status);
  return 1;
}

std::optional<std::int64_t> OffsetOf(const OVERLAPPED* o) {
  if (!o) return std::nullopt;
  return static_cast<std::int64_t>(o->Offset);
}

}  // namespace

// Errors.
DWORD WINAPI GetLastError() { return GetError(); }
void WINAPI SetLastError(DWORD e) { SetError(e); }

// The process.
[[noreturn]] void WINAPI ExitProcess(UINT code) { P().Exit(code); }
BOOL WINAPI TerminateProcess(HANDLE process, UINT code) {
  if (reinterpret_cast<std::intptr_t>(process) != -1) return FailWith(ERROR_ACCESS_DENIED);
  cpu::ExitUserMode(cpu::UserExitKind::kTerminated, code);
}
HANDLE WINAPI GetCurrentProcess() { return reinterpret_cast<HANDLE>(~std::uintptr_t{0}); }
HANDLE WINAPI GetCurrentThread() { return reinterpret_cast<HANDLE>(~std::uintptr_t{1}); }
DWORD WINAPI GetCurrentProcessId() { return P().process().id(); }
DWORD WINAPI GetCurrentThreadId() { return static_cast<DWORD>(nt::ke::CurrentThread()->id); }
LPSTR WINAPI GetCommandLineA() { return P().crt().acmdln; }
LPWSTR WINAPI GetCommandLineW() { return P().crt().wcmdln; }
void WINAPI GetStartupInfoA(void* info) {
  std::memset(info, 0, 104);
  *static_cast<DWORD*>(info) = 104;
}
void WINAPI GetStartupInfoW(void* info) { GetStartupInfoA(info); }
void* WINAPI SetUnhandledExceptionFilter(void* filter) {
  static thread_local void* current = nullptr;  // recorded; ntbox ends the program on any exception
  void* previous = current;
  current = filter;
  return previous;
}
[[noreturn]] void WINAPI RaiseException(DWORD code, DWORD, DWORD, const std::uint64_t*) {
  // No handler takes it (user-mode SEH is not dispatched): the process ends with the code.
  cpu::ExitUserMode(cpu::UserExitKind::kException, code);
}
int WINAPI C_specific_handler(void*, void*, void*, void*) { return 1; /* ExceptionContinueSearch */ }
UINT WINAPI SetErrorMode(UINT) { return 0; }

// Modules.
HMODULE WINAPI GetModuleHandleA(LPCSTR name) {
  if (!name) return reinterpret_cast<HMODULE>(P().image().base());
  std::string n = AsciiLower(name);
  if (n.find('.') == std::string::npos) n += ".dll";
  if (n == "kernel32.dll" || n == "ntdll.dll" || n == "kernelbase.dll") return reinterpret_cast<HMODULE>(kKernel32Module);
  if (n == "msvcrt.dll") return reinterpret_cast<HMODULE>(kMsvcrtModule);
  if (n == AsciiLower(P().options().name)) return reinterpret_cast<HMODULE>(P().image().base());
  SetError(ERROR_MOD_NOT_FOUND);
  return nullptr;
}
HMODULE WINAPI GetModuleHandleW(LPCWSTR name) {
  if (!name) return GetModuleHandleA(nullptr);
  const std::string n = Narrow(name);
  return GetModuleHandleA(n.c_str());
}
void* WINAPI GetProcAddress(HMODULE module, LPCSTR name) {
  const auto m = reinterpret_cast<std::uint64_t>(module);
  if (reinterpret_cast<std::uintptr_t>(name) < 0x10000) {  // by ordinal: ntbox's DLLs have none
    SetError(ERROR_PROC_NOT_FOUND);
    return nullptr;
  }
  const UserExport* e = nullptr;
  if (m == kKernel32Module) e = FindUserExport("kernel32.dll", name);
  else if (m == kMsvcrtModule) e = FindUserExport("msvcrt.dll", name);
  else if (m == P().image().base()) {
    if (auto a = P().image().FindExport(name)) return reinterpret_cast<void*>(*a);
  } else {
    SetError(ERROR_MOD_NOT_FOUND);
    return nullptr;
  }
  if (e) return e->address;
  SetError(ERROR_PROC_NOT_FOUND);
  return nullptr;
}
DWORD WINAPI GetModuleFileNameA(HMODULE module, LPSTR buffer, DWORD size) {
  if (module && reinterpret_cast<std::uint64_t>(module) != P().image().base()) return FailWith(ERROR_MOD_NOT_FOUND);
  const std::string path = P().Win32Path();
  if (size == 0) return FailWith(ERROR_INSUFFICIENT_BUFFER);
  const DWORD n = static_cast<DWORD>(std::min<std::size_t>(path.size(), size - 1));
  std::memcpy(buffer, path.data(), n);
  buffer[n] = 0;
  if (n < path.size()) SetError(ERROR_INSUFFICIENT_BUFFER);
  return n;
}

// Thread-local storage slots (TEB.TlsSlots).
DWORD WINAPI TlsAlloc() {
  static thread_local std::uint64_t used = 0;  // one program per thread
  for (DWORD i = 0; i < kTlsSlotCount; ++i) {
    if (!(used & (1ull << i))) {
      used |= 1ull << i;
      return i;
    }
  }
  SetError(ERROR_NOT_ENOUGH_MEMORY);
  return 0xFFFFFFFF;
}
LPVOID WINAPI TlsGetValue(DWORD index) {
  if (index >= kTlsSlotCount) {
    SetError(ERROR_INVALID_PARAMETER);
    return nullptr;
  }
  SetError(0);
  LPVOID v;
  std::memcpy(&v, reinterpret_cast<const void*>(P().teb() + kTebTlsSlots + 8ull * index), 8);
  return v;
}
BOOL WINAPI TlsSetValue(DWORD index, LPVOID value) {
  if (index >= kTlsSlotCount) return FailWith(ERROR_INVALID_PARAMETER);
  std::memcpy(reinterpret_cast<void*>(P().teb() + kTebTlsSlots + 8ull * index), &value, 8);
  return 1;
}
BOOL WINAPI TlsFree(DWORD index) { return index < kTlsSlotCount ? 1 : FailWith(ERROR_INVALID_PARAMETER); }

// Critical sections (RTL_CRITICAL_SECTION: DebugInfo, LockCount, RecursionCount, OwningThread,
// LockSemaphore, SpinCount). The lock word is LockCount: 0 free, 1 held, 2 held with waiters.
struct CriticalSection {
  void* DebugInfo;
  std::int32_t LockCount;
  std::int32_t RecursionCount;
  std::uint64_t OwningThread;
  std::uint64_t LockSemaphore;
  std::uint64_t SpinCount;
};
static_assert(sizeof(CriticalSection) == 40);
void WINAPI InitializeCriticalSection(CriticalSection* cs) { std::memset(cs, 0, sizeof *cs); }
BOOL WINAPI InitializeCriticalSectionAndSpinCount(CriticalSection* cs, DWORD) {
  InitializeCriticalSection(cs);
  return 1;
}
BOOL WINAPI InitializeCriticalSectionEx(CriticalSection* cs, DWORD, DWORD) {
  InitializeCriticalSection(cs);
  return 1;
}
void WINAPI DeleteCriticalSection(CriticalSection*) {}
BOOL WINAPI TryEnterCriticalSection(CriticalSection* cs) {
  const std::uint64_t me = nt::ke::CurrentThread()->id;
  if (cs->OwningThread == me) {
    ++cs->RecursionCount;
    return 1;
  }
  std::int32_t expected = 0;
  if (!std::atomic_ref<std::int32_t>(cs->LockCount).compare_exchange_strong(expected, 1)) return 0;
  cs->OwningThread = me;
  cs->RecursionCount = 1;
  return 1;
}
void WINAPI EnterCriticalSection(CriticalSection* cs) {
  if (TryEnterCriticalSection(cs)) return;
  std::atomic_ref<std::int32_t> word(cs->LockCount);
  while (word.exchange(2) != 0) syscall(SYS_futex, &cs->LockCount, FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
  cs->OwningThread = nt::ke::CurrentThread()->id;
  cs->RecursionCount = 1;
}
void WINAPI LeaveCriticalSection(CriticalSection* cs) {
  if (--cs->RecursionCount > 0) return;
  cs->OwningThread = 0;
  if (std::atomic_ref<std::int32_t>(cs->LockCount).exchange(0) == 2) {
    syscall(SYS_futex, &cs->LockCount, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
}

// Time.
void WINAPI Sleep(DWORD ms) { SleepMs(ms); }
DWORD WINAPI SleepEx(DWORD ms, BOOL) {
  SleepMs(ms);
  return 0;
}
DWORD WINAPI GetTickCount() { return static_cast<DWORD>(NowNs(CLOCK_MONOTONIC) / 1000000ull); }
std::uint64_t WINAPI GetTickCount64() { return NowNs(CLOCK_MONOTONIC) / 1000000ull; }
// QueryPerformanceFrequency is 10 MHz, as on current Windows.
BOOL WINAPI QueryPerformanceCounter(std::int64_t* counter) {
  *counter = static_cast<std::int64_t>(NowNs(CLOCK_MONOTONIC) / 100);
  return 1;
}
BOOL WINAPI QueryPerformanceFrequency(std::int64_t* frequency) {
  *frequency = 10000000;
  return 1;
}
void WINAPI GetSystemTimeAsFileTime(std::uint64_t* fileTime) {
  *fileTime = NowNs(CLOCK_REALTIME) / 100 + 116444736000000000ull;  // 100 ns since 1601
}

// Memory.
namespace {
constexpr DWORD PAGE_NOACCESS = 0x01, PAGE_READONLY = 0x02, PAGE_READWRITE = 0x04, PAGE_EXECUTE_READ = 0x20;
constexpr DWORD MEM_COMMIT = 0x1000, MEM_RELEASE = 0x8000, MEM_PRIVATE = 0x20000, MEM_IMAGE = 0x1000000;
constexpr DWORD MEM_FREE = 0x10000;
nt::mm::UserSpace::Protection ProtectionOf(DWORD protect) {
  if (protect & PAGE_NOACCESS) return nt::mm::UserSpace::kNoAccess;
  if (protect & (PAGE_READONLY | PAGE_EXECUTE_READ)) return nt::mm::UserSpace::kReadOnly;
  return nt::mm::UserSpace::kReadWrite;
}
}  // namespace

LPVOID WINAPI VirtualAlloc(LPVOID address, SIZE_T size, DWORD type, DWORD protect) {
  (void)type;
  auto* space = P().process().space();
  const auto prot = ProtectionOf(protect);
  void* p = address ? space->AllocateAt(reinterpret_cast<std::uint64_t>(address) & ~0xFFFFull, size, prot)
                    : space->Allocate(size, prot);
  if (!p) SetError(address ? 487 /* ERROR_INVALID_ADDRESS */ : ERROR_NOT_ENOUGH_MEMORY);
  return p;
}
BOOL WINAPI VirtualFree(LPVOID address, SIZE_T, DWORD type) {
  if (!(type & MEM_RELEASE)) return 1;  // decommit: the pages stay (they are zero-cost until touched)
  return P().process().space()->Free(address) ? 1 : FailWith(487);
}
BOOL WINAPI VirtualProtect(LPVOID address, SIZE_T size, DWORD protect, DWORD* old) {
  if (old) *old = PAGE_READWRITE;
  const auto a = reinterpret_cast<std::uint64_t>(address);
  if (P().image().contains(a)) {
    // The program's own image (mingw's pseudo-relocations make sections writable briefly).
    const std::uint64_t start = a & ~0xFFFull;
    const int prot = protect & (PAGE_NOACCESS) ? PROT_NONE
                     : protect & (0x10 | 0x20 | 0x40 | 0x80) ? PROT_READ | PROT_EXEC | ((protect & (0x40 | 0x80)) ? PROT_WRITE : 0)
                     : protect & PAGE_READONLY ? PROT_READ
                                               : PROT_READ | PROT_WRITE;
    if (old) *old = PAGE_EXECUTE_READ;
    return mprotect(reinterpret_cast<void*>(start), a + size - start, prot) == 0 ? 1 : FailWith(487);
  }
  return P().process().space()->Protect(address, size, ProtectionOf(protect)) ? 1 : FailWith(487);
}
struct MemoryBasicInformation {
  std::uint64_t BaseAddress, AllocationBase;
  DWORD AllocationProtect;
  std::uint16_t PartitionId;
  std::uint64_t RegionSize;
  DWORD State, Protect, Type;
};
static_assert(sizeof(MemoryBasicInformation) == 48);
SIZE_T WINAPI VirtualQuery(LPCVOID address, MemoryBasicInformation* info, SIZE_T length) {
  if (length < sizeof(MemoryBasicInformation)) return FailWith(24 /* ERROR_BAD_LENGTH */);
  const auto a = reinterpret_cast<std::uint64_t>(address);
  *info = {};
  info->BaseAddress = a & ~0xFFFull;
  info->RegionSize = 0x1000;
  if (P().image().contains(a)) {
    info->AllocationBase = P().image().base();
    info->AllocationProtect = PAGE_EXECUTE_READ;
    info->State = MEM_COMMIT;
    info->Protect = PAGE_READWRITE;
    info->Type = MEM_IMAGE;
  } else if (P().process().space()->IsCommitted(a, 1)) {
    info->AllocationBase = info->BaseAddress;
    info->AllocationProtect = PAGE_READWRITE;
    info->State = MEM_COMMIT;
    info->Protect = PAGE_READWRITE;
    info->Type = MEM_PRIVATE;
  } else {
    info->State = MEM_FREE;
    info->Protect = PAGE_NOACCESS;
  }
  return sizeof(MemoryBasicInformation);
}
HANDLE WINAPI GetProcessHeap() { return reinterpret_cast<HANDLE>(kProcessHeapHandle); }
HANDLE WINAPI HeapCreate(DWORD, SIZE_T, SIZE_T) { return GetProcessHeap(); }
BOOL WINAPI HeapDestroy(HANDLE) { return 1; }
LPVOID WINAPI HeapAlloc(HANDLE, DWORD flags, SIZE_T size) {
  void* p = P().heap().Allocate(size, (flags & 0x8 /* HEAP_ZERO_MEMORY */) != 0);
  if (!p) SetError(ERROR_NOT_ENOUGH_MEMORY);
  return p;
}
BOOL WINAPI HeapFree(HANDLE, DWORD, LPVOID block) { return P().heap().Free(block) ? 1 : FailWith(ERROR_INVALID_PARAMETER); }
LPVOID WINAPI HeapReAlloc(HANDLE, DWORD flags, LPVOID block, SIZE_T size) {
  const std::size_t old = P().heap().SizeOf(block);
  void* p = P().heap().Reallocate(block, size);
  if (p && (flags & 0x8) && old != SIZE_MAX && size > old) std::memset(static_cast<char*>(p) + old, 0, size - old);
  return p;
}
SIZE_T WINAPI HeapSize(HANDLE, DWORD, LPCVOID block) { return P().heap().SizeOf(block); }

// Strings (user/CodePage).

int WINAPI MultiByteToWideChar(UINT codePage, DWORD, LPCSTR s, int length, LPWSTR out, int outLength) {
  if (!s || length == 0 || outLength < 0) return FailWith(ERROR_INVALID_PARAMETER);
  const std::u16string w = Decode(codePage, s, length);
  if (outLength == 0) return static_cast<int>(w.size());
  if (w.size() > static_cast<std::size_t>(outLength)) return FailWith(ERROR_INSUFFICIENT_BUFFER);
  std::memcpy(out, w.data(), w.size() * 2);
  return static_cast<int>(w.size());
}
int WINAPI WideCharToMultiByte(UINT codePage, DWORD, LPCWSTR s, int length, LPSTR out, int outLength, LPCSTR,
                               BOOL* usedDefault) {
  if (!s || length == 0 || outLength < 0) return FailWith(ERROR_INVALID_PARAMETER);
  if (usedDefault) *usedDefault = 0;
  const std::string a = Encode(codePage, s, length);
  if (outLength == 0) return static_cast<int>(a.size());
  if (a.size() > static_cast<std::size_t>(outLength)) return FailWith(ERROR_INSUFFICIENT_BUFFER);
  std::memcpy(out, a.data(), a.size());
  return static_cast<int>(a.size());
}
BOOL WINAPI IsDBCSLeadByteEx(UINT, std::uint8_t) { return 0; }
BOOL WINAPI IsDBCSLeadByte(std::uint8_t) { return 0; }
UINT WINAPI GetACP() { return 1252; }
UINT WINAPI GetOEMCP() { return 437; }
UINT WINAPI GetConsoleOutputCP() { return 65001; }
UINT WINAPI GetConsoleCP() { return 65001; }
BOOL WINAPI SetConsoleOutputCP(UINT) { return 1; }
BOOL WINAPI SetConsoleCP(UINT) { return 1; }

// The console.
HANDLE WINAPI GetStdHandle(DWORD which) {
  switch (static_cast<std::int32_t>(which)) {
    case -10: return reinterpret_cast<HANDLE>(kConsoleIn);
    case -11: return reinterpret_cast<HANDLE>(kConsoleOut);
    case -12: return reinterpret_cast<HANDLE>(kConsoleErr);
    default: return INVALID_HANDLE_VALUE;
  }
}
BOOL WINAPI WriteConsoleA(HANDLE h, const void* text, DWORD length, DWORD* written, void*) {
  const int fd = ConsoleFd(h);
  if (fd < 1) return FailWith(ERROR_INVALID_HANDLE);
  if (written) *written = 0;
  if (!P().WriteStd(fd, text, length)) return FailWith(232 /* ERROR_NO_DATA: the pipe is closed */);
  if (written) *written = length;
  return 1;
}
BOOL WINAPI WriteConsoleW(HANDLE h, const char16_t* text, DWORD length, DWORD* written, void*) {
  const std::string utf8 = Encode(CP_UTF8, text, static_cast<int>(length));
  if (!WriteConsoleA(h, utf8.data(), static_cast<DWORD>(utf8.size()), nullptr, nullptr)) return 0;
  if (written) *written = length;
  return 1;
}
BOOL WINAPI ReadConsoleA(HANDLE h, void* buffer, DWORD length, DWORD* read, void*) {
  if (ConsoleFd(h) != 0) return FailWith(ERROR_INVALID_HANDLE);
  const int n = P().ReadStdin(buffer, length);
  if (n < 0) return FailWith(ERROR_INVALID_HANDLE);
  if (read) *read = static_cast<DWORD>(n);
  return 1;
}
BOOL WINAPI GetConsoleMode(HANDLE h, DWORD* mode) {
  if (ConsoleFd(h) < 0) return FailWith(ERROR_INVALID_HANDLE);
  *mode = ConsoleFd(h) == 0 ? 0x1F7 : 0x7;
  return 1;
}
BOOL WINAPI SetConsoleMode(HANDLE h, DWORD) { return ConsoleFd(h) < 0 ? FailWith(ERROR_INVALID_HANDLE) : 1; }
BOOL WINAPI SetConsoleCtrlHandler(void*, BOOL) { return 1; }
DWORD WINAPI GetFileType(HANDLE h) {
  if (ConsoleFd(h) >= 0) return 2;  // FILE_TYPE_CHAR
  auto entry = P().process().handles().Reference(reinterpret_cast<std::uint64_t>(h));
  if (!entry) return FailWith(ERROR_INVALID_HANDLE);  // FILE_TYPE_UNKNOWN with an error
  nt::ob::DereferenceObject(entry->body);
  SetError(0);
  return 0;  // FILE_TYPE_UNKNOWN: a device of a driver
}

// Files and devices.
constexpr DWORD FILE_FLAG_OVERLAPPED = 0x40000000;
HANDLE WINAPI CreateFileA(LPCSTR name, DWORD access, DWORD share, void*, DWORD disposition, DWORD flags, HANDLE) {
  if (!name) {
    SetError(ERROR_INVALID_PARAMETER);
    return INVALID_HANDLE_VALUE;
  }
  const std::u16string ntName = DeviceNtName(name);
  if (ntName.empty()) {
    // Files: the machine's drives come with the file system; only devices open today.
    SetError(ERROR_PATH_NOT_FOUND);
    return INVALID_HANDLE_VALUE;
  }
  if (disposition != 3 /* OPEN_EXISTING */ && disposition != 4 /* OPEN_ALWAYS */) {
    SetError(ERROR_INVALID_PARAMETER);
    return INVALID_HANDLE_VALUE;
  }
  std::expected<nt::ob::HandleValue, nt::NTSTATUS> opened = std::unexpected(nt::STATUS_UNSUCCESSFUL);
  Program& p = P();
  p.Syscall([&] {
    opened = nt::io::OpenFile(p.process(), ntName, access, share, (flags & FILE_FLAG_OVERLAPPED) != 0);
  });
  if (!opened) {
    FailStatus(opened.error());
    return INVALID_HANDLE_VALUE;
  }
  SetError(0);
  return reinterpret_cast<HANDLE>(*opened);
}
HANDLE WINAPI CreateFileW(LPCWSTR name, DWORD access, DWORD share, void* sa, DWORD disposition, DWORD flags,
                          HANDLE templ) {
  if (!name) return CreateFileA(nullptr, access, share, sa, disposition, flags, templ);
  const std::string n = Narrow(name);
  return CreateFileA(n.c_str(), access, share, sa, disposition, flags, templ);
}
BOOL WINAPI DeviceIoControl(HANDLE h, DWORD code, LPVOID in, DWORD inLength, LPVOID out, DWORD outLength,
                            DWORD* returned, OVERLAPPED* overlapped) {
  if (ConsoleFd(h) >= 0) return FailWith(1 /* ERROR_INVALID_FUNCTION */);
  Program& p = P();
  nt::io::IoStatus s;
  // Read in user mode, as kernel32 does on Windows: a bad OVERLAPPED faults the program, not the kernel.
  const nt::io::AsyncRequest async{overlapped, overlapped ? reinterpret_cast<std::uint64_t>(overlapped->hEvent) : 0};
  p.Syscall([&] {
    s = nt::io::DeviceIoControl(p.process(), reinterpret_cast<std::uint64_t>(h), code, in, inLength, out, outLength,
                                false, overlapped ? &async : nullptr);
  });
  if (s.status == nt::STATUS_PENDING) return FailWith(997 /* ERROR_IO_PENDING */);
  CompleteOverlapped(overlapped, s);
  return IoResultToBool(s, returned);
}
BOOL WINAPI ReadFile(HANDLE h, LPVOID buffer, DWORD length, DWORD* read, OVERLAPPED* overlapped) {
  if (ConsoleFd(h) == 0) return ReadConsoleA(h, buffer, length, read, nullptr);
  if (ConsoleFd(h) > 0) return FailWith(ERROR_ACCESS_DENIED);
  Program& p = P();
  nt::io::IoStatus s;
  p.Syscall([&] { s = nt::io::ReadFile(p.process(), reinterpret_cast<std::uint64_t>(h), buffer, length, OffsetOf(overlapped)); });
  CompleteOverlapped(overlapped, s);
  if (s.status == static_cast<nt::NTSTATUS>(0xC0000011) /* STATUS_END_OF_FILE */) {
    if (read) *read = 0;
    return 1;  // Win32 reads at the end succeed with 0 bytes
  }
  return IoResultToBool(s, read);
}
BOOL WINAPI WriteFile(HANDLE h, LPCVOID buffer, DWORD length, DWORD* written, OVERLAPPED* overlapped) {
  if (ConsoleFd(h) > 0) return WriteConsoleA(h, buffer, length, written, nullptr);
  if (ConsoleFd(h) == 0) return FailWith(ERROR_ACCESS_DENIED);
  Program& p = P();
  nt::io::IoStatus s;
  p.Syscall([&] { s = nt::io::WriteFile(p.process(), reinterpret_cast<std::uint64_t>(h), buffer, length, OffsetOf(overlapped)); });
  CompleteOverlapped(overlapped, s);
  return IoResultToBool(s, written);
}
BOOL WINAPI FlushFileBuffers(HANDLE h) {
  if (ConsoleFd(h) >= 0) return 1;
  Program& p = P();
  nt::io::IoStatus s;
  p.Syscall([&] { s = nt::io::FlushBuffers(p.process(), reinterpret_cast<std::uint64_t>(h)); });
  return IoResultToBool(s, nullptr);
}
BOOL WINAPI GetOverlappedResult(HANDLE, OVERLAPPED* o, DWORD* transferred, BOOL wait) {
  if (static_cast<nt::NTSTATUS>(o->Internal) == nt::STATUS_PENDING) {
    if (!wait) return FailWith(996 /* ERROR_IO_INCOMPLETE */);
    Program& p = P();
    p.Syscall([&] { (void)nt::io::WaitForOverlapped(p.process(), o); });
  }
  nt::io::IoStatus s{static_cast<nt::NTSTATUS>(o->Internal), o->InternalHigh};
  return IoResultToBool(s, transferred);
}
// Cancels the handle's outstanding overlapped requests (all of them, or the one given).
std::size_t CancelRequests(HANDLE h, OVERLAPPED* o) {
  Program& p = P();
  std::size_t n = 0;
  p.Syscall([&] { n = nt::io::CancelIo(p.process(), reinterpret_cast<std::uint64_t>(h), o); });
  return n;
}
BOOL WINAPI CancelIo(HANDLE h) {
  (void)CancelRequests(h, nullptr);
  return 1;
}
BOOL WINAPI CancelIoEx(HANDLE h, OVERLAPPED* o) {
  if (CancelRequests(h, o) == 0) return FailWith(1168 /* ERROR_NOT_FOUND: nothing pending */);
  return 1;
}
BOOL WINAPI CloseHandle(HANDLE h) {
  if (ConsoleFd(h) >= 0) return 1;
  Program& p = P();
  nt::NTSTATUS s = 0;
  p.Syscall([&] { s = nt::io::Close(p.process(), reinterpret_cast<std::uint64_t>(h)); });
  return s < 0 ? FailStatus(s) : 1;
}

// Events and waits.
HANDLE WINAPI CreateEventA(void*, BOOL manualReset, BOOL initialState, LPCSTR name) {
  if (name) {
    // Named events live in \BaseNamedObjects, which comes with the object manager's next step.
    SetError(ERROR_NOT_SUPPORTED);
    return nullptr;
  }
  void* body = nt::ob::CreateObject(nt::ob::EventType(), sizeof(nt::KEVENT));
  nt::KeInitializeEvent(static_cast<nt::KEVENT*>(body), manualReset ? 0 : 1, initialState ? 1 : 0);
  const auto handle = P().process().handles().Insert(body, 0x1F0003 /* EVENT_ALL_ACCESS */);
  nt::ob::DereferenceObject(body);
  SetError(0);
  return reinterpret_cast<HANDLE>(handle);
}
HANDLE WINAPI CreateEventW(void* sa, BOOL manualReset, BOOL initialState, LPCWSTR name) {
  if (name) return CreateEventA(sa, manualReset, initialState, "named");
  return CreateEventA(sa, manualReset, initialState, nullptr);
}
BOOL WINAPI SetEvent(HANDLE h) {
  void* body = nullptr;
  nt::KEVENT* e = EventOf(h, &body);
  if (!e) return FailWith(ERROR_INVALID_HANDLE);
  nt::KeSetEvent(e, 0, 0);
  nt::ob::DereferenceObject(body);
  return 1;
}
BOOL WINAPI ResetEvent(HANDLE h) {
  void* body = nullptr;
  nt::KEVENT* e = EventOf(h, &body);
  if (!e) return FailWith(ERROR_INVALID_HANDLE);
  nt::KeResetEvent(e);
  nt::ob::DereferenceObject(body);
  return 1;
}
DWORD WINAPI WaitForSingleObject(HANDLE h, DWORD ms) {
  void* body = nullptr;
  nt::KEVENT* e = EventOf(h, &body);
  if (!e) {
    SetError(ERROR_INVALID_HANDLE);
    return WAIT_FAILED;
  }
  const DWORD r = WaitEvent(e, ms);
  nt::ob::DereferenceObject(body);
  return r;
}
DWORD WINAPI WaitForSingleObjectEx(HANDLE h, DWORD ms, BOOL) { return WaitForSingleObject(h, ms); }

// Paths.
DWORD WINAPI GetCurrentDirectoryA(DWORD size, LPSTR buffer) {
  const std::string& dir = P().options().currentDirectory;
  if (size <= dir.size()) return static_cast<DWORD>(dir.size() + 1);
  std::memcpy(buffer, dir.c_str(), dir.size() + 1);
  return static_cast<DWORD>(dir.size());
}
DWORD WINAPI GetFullPathNameA(LPCSTR name, DWORD size, LPSTR buffer, LPSTR* filePart) {
  std::string path(name ? name : "");
  for (auto& c : path) if (c == '/') c = '\\';
  const bool absolute = (path.size() >= 3 && path[1] == ':' && path[2] == '\\') || path.rfind("\\\\", 0) == 0;
  if (!absolute) {
    std::string dir = P().options().currentDirectory;
    if (!path.empty() && path[0] == '\\') path = dir.substr(0, 2) + path;
    else path = dir + (dir.ends_with('\\') ? "" : "\\") + path;
  }
  if (size <= path.size()) return static_cast<DWORD>(path.size() + 1);
  std::memcpy(buffer, path.c_str(), path.size() + 1);
  if (filePart) {
    const auto slash = path.rfind('\\');
    *filePart = slash == std::string::npos || slash + 1 == path.size() ? nullptr : buffer + slash + 1;
  }
  return static_cast<DWORD>(path.size());
}

void WINAPI OutputDebugStringA(LPCSTR) {}

}  // namespace ntbox::user::k32

namespace ntbox::user {

#define K32(name) UserExport{"kernel32.dll", #name, reinterpret_cast<void*>(&k32::name)}

std::span<const UserExport> Kernel32Exports() {
  static const auto table = std::to_array<UserExport>({
      K32(GetLastError), K32(SetLastError), K32(ExitProcess), K32(TerminateProcess), K32(GetCurrentProcess),
      K32(GetCurrentThread), K32(GetCurrentProcessId), K32(GetCurrentThreadId), K32(GetCommandLineA),
      K32(GetCommandLineW), K32(GetStartupInfoA), K32(GetStartupInfoW), K32(SetUnhandledExceptionFilter),
      K32(RaiseException), UserExport{"kernel32.dll", "__C_specific_handler", reinterpret_cast<void*>(&k32::C_specific_handler)},
      K32(SetErrorMode), K32(GetModuleHandleA), K32(GetModuleHandleW), K32(GetProcAddress), K32(GetModuleFileNameA),
      K32(TlsAlloc), K32(TlsGetValue), K32(TlsSetValue), K32(TlsFree),
      K32(InitializeCriticalSection), K32(InitializeCriticalSectionAndSpinCount), K32(InitializeCriticalSectionEx),
      K32(DeleteCriticalSection), K32(TryEnterCriticalSection), K32(EnterCriticalSection), K32(LeaveCriticalSection),
      K32(Sleep), K32(SleepEx), K32(GetTickCount), K32(GetTickCount64), K32(QueryPerformanceCounter),
      K32(QueryPerformanceFrequency), K32(GetSystemTimeAsFileTime),
      K32(VirtualAlloc), K32(VirtualFree), K32(VirtualProtect), K32(VirtualQuery), K32(GetProcessHeap),
      K32(HeapCreate), K32(HeapDestroy), K32(HeapAlloc), K32(HeapFree), K32(HeapReAlloc), K32(HeapSize),
      K32(MultiByteToWideChar), K32(WideCharToMultiByte), K32(IsDBCSLeadByteEx), K32(IsDBCSLeadByte), K32(GetACP),
      K32(GetOEMCP), K32(GetConsoleOutputCP), K32(GetConsoleCP), K32(SetConsoleOutputCP), K32(SetConsoleCP),
      K32(GetStdHandle), K32(WriteConsoleA), K32(WriteConsoleW), K32(ReadConsoleA), K32(GetConsoleMode),
      K32(SetConsoleMode), K32(SetConsoleCtrlHandler), K32(GetFileType),
      K32(CreateFileA), K32(CreateFileW), K32(DeviceIoControl), K32(ReadFile), K32(WriteFile), K32(FlushFileBuffers),
      K32(GetOverlappedResult), K32(CancelIo), K32(CancelIoEx), K32(CloseHandle),
      K32(CreateEventA), K32(CreateEventW), K32(SetEvent), K32(ResetEvent), K32(WaitForSingleObject),
      K32(WaitForSingleObjectEx), K32(GetCurrentDirectoryA), K32(GetFullPathNameA), K32(OutputDebugStringA),
  });
  return table;
}

}  // namespace ntbox::user
