// NtCreateFile and NtOpenFile for programs: names captured from the caller, then resolved on the
// machine's volumes as Windows' object manager and file systems would, without regard to case:
// C: is the machine's drive (C:\windows\system32 also shows the system DLLs, Wine's PE builds,
// read-only), Z: the host's root (read-only; for a program run by `ntbox run`, opened by its client:
// support/HostFiles.h), and
// any other name a device (\??\IoctlTest, \Device\Null). Drivers' calls (KernelMode) are ZwCreateFile's.
#include <dirent.h>
#include <poll.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstring>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/DriveFile.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoServices.h"
#include "nt/ke/Dispatcher.h"
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/io/Overlapped.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObTypes.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "support/HostFiles.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

constexpr ULONG FILE_OPEN = 1, FILE_OPEN_IF = 3;
constexpr ULONG FILE_DIRECTORY_FILE = 0x1, FILE_NON_DIRECTORY_FILE = 0x40;
constexpr ACCESS_MASK kWriteAccess = 0x40000000 /* GENERIC_WRITE */ | 0x10000000 /* GENERIC_ALL */ | 0x2 |
                                     0x4 | 0x10 | 0x100 | 0x10000 /* DELETE */ | 0x40000 | 0x80000;

// A name from the caller's OBJECT_ATTRIBUTES, copied into the kernel; root: the handle it is
// relative to (only a device's file may be one so far).
NTSTATUS CaptureName(const OBJECT_ATTRIBUTES* attributes, std::u16string& name, ULONG& attributeFlags,
                     HANDLE* root = nullptr) {
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(attributes, a); s != STATUS_SUCCESS) return s;
  if (a.root && !root) return STATUS_NOT_IMPLEMENTED;  // relative opens come with directory handles
  if (root) *root = a.root;
  name = std::move(a.name);
  attributeFlags = a.attributes;
  return STATUS_SUCCESS;
}

bool EqualNoCase(std::u16string_view a, std::u16string_view b) { return ob::UpcaseName(a) == ob::UpcaseName(b); }

// A missing folder on the way is a path not found, the missing last component a name not found.
NTSTATUS FromErrno(int e, bool last) {
  return e == ENOENT && !last ? STATUS_OBJECT_PATH_NOT_FOUND : io::StatusOfErrno(e);
}

// What a walk opened (dir), checked against what the caller asked for.
NTSTATUS CheckOpened(int dir, ULONG options, int& out, bool& directory) {
  struct stat st {};
  ::fstat(dir, &st);
  directory = S_ISDIR(st.st_mode);
  if (directory && (options & FILE_NON_DIRECTORY_FILE)) {
    ::close(dir);
    return STATUS_FILE_IS_A_DIRECTORY;
  }
  if (!directory && (options & FILE_DIRECTORY_FILE)) {
    ::close(dir);
    return STATUS_NOT_A_DIRECTORY;
  }
  if (!directory && !S_ISREG(st.st_mode)) {
    ::close(dir);
    return STATUS_ACCESS_DENIED;  // host devices, FIFOs and sockets are not the program's
  }
  out = dir;
  return STATUS_SUCCESS;
}

// Walks components from root (an open directory, consumed), each without regard to case.
NTSTATUS Walk(int root, const std::vector<std::string>& parts, ULONG options, int& out, bool& directory) {
  std::size_t failedAt = 0;
  const int fd = OpenBeneathNoCase(root, parts, O_RDONLY, &failedAt);
  const int error = errno;
  ::close(root);
  if (fd < 0) return FromErrno(error, failedAt + 1 >= parts.size());
  return CheckOpened(fd, options, out, directory);
}

std::vector<std::string> Components(std::u16string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(u'\\', start), path.size());
    if (end > start) parts.push_back(Utf16ToUtf8(path.substr(start, end - start)));
    start = end + 1;
  }
  return parts;
}

// Where a read of parts on drive starts: an open host directory (-1 for a drive the machine
// lacks) and the parts to walk from it. C:\windows\system32\X is the system DLLs' X when there
// is one by that name (systemDll).
int ReadRoot(char16_t drive, const std::vector<std::string>& parts, std::vector<std::string>& walk, bool& systemDll) {
  const auto& config = Kernel::Current().config();
  walk = parts;
  systemDll = false;
  if (drive == u'C' && parts.size() == 3 && EqualNoCase(ob::Widen(parts[0]), u"windows") &&
      EqualNoCase(ob::Widen(parts[1]), u"system32")) {
    for (const std::string& folder : config.systemDlls) {
      const int dlls = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      const int probe = dlls >= 0 ? OpenBeneathNoCase(dlls, {parts[2]}, O_RDONLY) : -1;
      if (probe < 0) {
        if (dlls >= 0) ::close(dlls);
        continue;
      }
      ::close(probe);
      walk = {parts[2]};
      systemDll = true;
      return dlls;
    }
  }
  if (drive == u'C') return ::open(config.systemDrive.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (drive == u'Z') return ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return -1;
}

// The parts of a path on a volume (after "X:"), or the status that refuses them.
NTSTATUS VolumeParts(std::u16string_view rest, std::vector<std::string>& parts) {
  parts = Components(rest.substr(2));
  for (const auto& p : parts) {
    if (p == "." || p == ".." || p.find_first_of("/:*?\"<>|") != std::string::npos) return STATUS_OBJECT_NAME_INVALID;
  }
  return STATUS_SUCCESS;
}

NTSTATUS OpenOnVolume(const std::u16string& ntName, std::u16string_view rest, ACCESS_MASK access, ULONG disposition,
                      ULONG options, HANDLE* handle) {
  const char16_t drive = static_cast<char16_t>(rest[0] & ~0x20);
  std::vector<std::string> parts;
  if (const NTSTATUS s = VolumeParts(rest, parts); s != STATUS_SUCCESS) return s;
  const bool wantsWrite = (access & kWriteAccess) || (disposition != FILE_OPEN && disposition != FILE_OPEN_IF);
  std::vector<std::string> walk;
  bool systemDll = false;
  if (wantsWrite && drive == u'C') {
    const int probe = ReadRoot(drive, parts, walk, systemDll);
    if (probe >= 0) ::close(probe);
    if (systemDll) return STATUS_ACCESS_DENIED;
    // Creating and writing: the kernel's own drive I/O (case as given), the handle the program's.
    UNICODE_STRING u{static_cast<USHORT>(ntName.size() * 2), static_cast<USHORT>(ntName.size() * 2),
                     const_cast<char16_t*>(ntName.data())};
    OBJECT_ATTRIBUTES a{sizeof(OBJECT_ATTRIBUTES), nullptr, &u, OBJ_CASE_INSENSITIVE, nullptr, nullptr};
    IO_STATUS_BLOCK iosb{};
    return ZwCreateFile(handle, access, &a, &iosb, nullptr, 0, 0, disposition, options, nullptr, 0);
  }
  if (wantsWrite && drive == u'Z') return STATUS_ACCESS_DENIED;
  if (HostFileOpener* opener = drive == u'Z' ? CurrentHostFileOpener() : nullptr) {
    // A program run by `ntbox run` reaches the host's files through its client, with the user's
    // rights, while that run lasts; the server does not open them itself.
    std::size_t failedAt = 0;
    const int opened = opener->Open(parts, &failedAt);
    if (opened < 0) return FromErrno(errno, failedAt + 1 >= parts.size());
    int fd = -1;
    bool directory = false;
    if (const NTSTATUS s = CheckOpened(opened, options, fd, directory); s != STATUS_SUCCESS) return s;
    return io::InsertHostFile(fd, directory, ntName, access, handle);
  }
  const int root = ReadRoot(drive, parts, walk, systemDll);
  if (root < 0) return STATUS_OBJECT_PATH_NOT_FOUND;
  int fd = -1;
  bool directory = false;
  if (const NTSTATUS s = Walk(root, walk, options, fd, directory); s != STATUS_SUCCESS) return s;
  return io::InsertHostFile(fd, directory, ntName, access, handle);
}

// Opens what the caller's OBJECT_ATTRIBUTES name for a program: a file on a volume or a device.
NTSTATUS OpenByName(const OBJECT_ATTRIBUTES* objectAttributes, ACCESS_MASK access, ULONG share, ULONG disposition,
                    ULONG options, HANDLE& handle, ULONG* handleAttributes = nullptr) {
  std::u16string name;
  ULONG attributes = 0;
  HANDLE root = nullptr;
  if (const NTSTATUS s = CaptureName(objectAttributes, name, attributes, &root); s != STATUS_SUCCESS) return s;
  if (handleAttributes) *handleAttributes = attributes;
  const bool overlapped = !(options & 0x30);  // neither FILE_SYNCHRONOUS_IO_(NON)ALERT
  if (root) {
    // Relative to a device's file (the console's Connection): the device's driver opens the name.
    auto opened = io::OpenRelative(ps::CurrentProcess(), reinterpret_cast<ob::HandleValue>(root), name, access, share,
                                   overlapped);
    if (!opened) return opened.error();
    handle = reinterpret_cast<HANDLE>(*opened);
    return STATUS_SUCCESS;
  }
  std::u16string_view rest = name;
  for (std::u16string_view prefix : {u"\\??\\", u"\\DosDevices\\", u"\\GLOBAL??\\"}) {
    if (rest.size() >= prefix.size() && EqualNoCase(rest.substr(0, prefix.size()), prefix)) {
      rest = rest.substr(prefix.size());
      break;
    }
  }
  if (rest.size() >= 2 && rest[1] == u':' && rest != std::u16string_view(name)) {
    return OpenOnVolume(name, rest, access, disposition, options, &handle);
  }
  if (const auto pipe = io::PipeName(name)) return io::OpenPipeClient(*pipe, access, handle);
  auto opened = io::OpenFile(ps::CurrentProcess(), name, access, share, overlapped);
  if (!opened) return opened.error();
  handle = reinterpret_cast<HANDLE>(*opened);
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS io::HostPathOfFile(std::u16string_view ntName, std::filesystem::path& hostPath) {
  std::u16string_view rest = ntName;
  for (std::u16string_view prefix : {u"\\??\\", u"\\DosDevices\\", u"\\GLOBAL??\\"}) {
    if (rest.size() >= prefix.size() && EqualNoCase(rest.substr(0, prefix.size()), prefix)) {
      rest = rest.substr(prefix.size());
      break;
    }
  }
  if (rest.size() < 3 || rest[1] != u':' || rest == ntName) return STATUS_OBJECT_PATH_SYNTAX_BAD;
  std::vector<std::string> parts, walk;
  if (const NTSTATUS s = VolumeParts(rest, parts); s != STATUS_SUCCESS) return s;
  bool systemDll = false;
  const char16_t drive = static_cast<char16_t>(rest[0] & ~0x20);
  int fd = -1;
  if (HostFileOpener* opener = drive == u'Z' ? CurrentHostFileOpener() : nullptr) {
    // The host's files as the program's client sees them: the process may not look itself.
    fd = opener->Open(parts);
    if (fd < 0) return errno == ENOENT ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_ACCESS_DENIED;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
      ::close(fd);
      return STATUS_FILE_IS_A_DIRECTORY;
    }
  } else {
    const int root = ReadRoot(drive, parts, walk, systemDll);
    if (root < 0) return STATUS_OBJECT_PATH_NOT_FOUND;
    bool directory = false;
    if (const NTSTATUS s = Walk(root, walk, FILE_NON_DIRECTORY_FILE, fd, directory); s != STATUS_SUCCESS) return s;
  }
  std::error_code ec;
  hostPath = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
  ::close(fd);
  return ec ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_SUCCESS;
}

NTSTATUS NTAPI NtCreateFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                            IO_STATUS_BLOCK* IoStatusBlock, LARGE_INTEGER* AllocationSize, ULONG FileAttributes,
                            ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer,
                            ULONG EaLength) {
  if (ExGetPreviousMode() == KernelMode) {
    return ZwCreateFile(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, AllocationSize, FileAttributes,
                        ShareAccess, CreateDisposition, CreateOptions, EaBuffer, EaLength);
  }
  if (!mm::WriteCaller(FileHandle, HANDLE{}) || !mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  HANDLE handle = nullptr;
  ULONG attributes = 0;
  NTSTATUS status =
      OpenByName(ObjectAttributes, DesiredAccess, ShareAccess, CreateDisposition, CreateOptions, handle, &attributes);
  if (NT_SUCCESS(status)) (void)ps::CurrentProcess().handles().SetAttributes(reinterpret_cast<ob::HandleValue>(handle), attributes);
  IO_STATUS_BLOCK iosb{};
  iosb.Status = status;
  iosb.Information = NT_SUCCESS(status) ? 1 /* FILE_OPENED */ : 0;
  if (!mm::WriteCaller(IoStatusBlock, iosb)) status = STATUS_ACCESS_VIOLATION;
  if (NT_SUCCESS(status) && !mm::WriteCaller(FileHandle, handle)) {
    (void)NtClose(handle);
    return STATUS_ACCESS_VIOLATION;
  }
  return status;
}

namespace {

// Waits until a pipe, socket or terminal can be read or written, without the kernel lock: a
// program waiting for its input holds up neither the machine nor its own end (termination
// interrupts the wait, and it is looked at again every second in case its signal came just before
// the wait began). False when the thread is to end.
bool WaitForHostFile(int fd, bool write) {
  ke::KernelThread* t = ke::CurrentThread();
  auto& lock = ke::TheKernelLock();
  const unsigned depth = lock.HeldByCaller() ? lock.ReleaseAll() : 0;
  bool ready = false;
  while (!(t && t->terminateRequested)) {
    pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    const int n = ::poll(&p, 1, 1000);
    if (n > 0) {
      ready = true;  // data, room, or an end (the read or write then says which)
      break;
    }
    if (n < 0 && errno != EINTR) {
      ready = true;
      break;
    }
  }
  if (depth) lock.Reacquire(depth);
  return ready;
}

// A transfer on a file the kernel holds a host descriptor for (the machine's drives, pipes and
// files the client lent as standard handles): the caller's buffer copied in chunks, never touched
// directly.
NTSTATUS HostTransfer(int fd, bool write, PVOID buffer, ULONG length, const LARGE_INTEGER* offset, ULONG_PTR& done) {
  constexpr std::size_t kChunk = 64 * 1024;
  std::vector<std::uint8_t> chunk(std::min<std::size_t>(length, kChunk));
  // A pipe, socket or terminal may have to be waited for; a file or a directory never. A stream
  // has no position: an offset (an overlapped transfer's OVERLAPPED.Offset) means nothing to it.
  struct stat st {};
  const bool stream = ::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
  std::optional<std::int64_t> at;
  if (offset && offset->QuadPart >= 0 && !stream) at = offset->QuadPart;
  done = 0;
  while (done < length) {
    const std::size_t n = std::min<std::size_t>(length - done, kChunk);
    auto* user = static_cast<std::uint8_t*>(buffer) + done;
    if (write && !mm::ReadCaller(chunk.data(), user, n)) return STATUS_ACCESS_VIOLATION;
    if (stream && !WaitForHostFile(fd, write)) return STATUS_CANCELLED;
    ssize_t r;
    do {
      if (write) {
        r = at ? ::pwrite(fd, chunk.data(), n, static_cast<off_t>(*at + done)) : ::write(fd, chunk.data(), n);
      } else {
        r = at ? ::pread(fd, chunk.data(), n, static_cast<off_t>(*at + done)) : ::read(fd, chunk.data(), n);
      }
    } while (r < 0 && errno == EINTR);
    if (r < 0) return errno == EPIPE ? STATUS_PIPE_BROKEN : STATUS_UNSUCCESSFUL;
    if (!write && r > 0 && !mm::WriteCaller(user, chunk.data(), static_cast<std::size_t>(r))) {
      return STATUS_ACCESS_VIOLATION;
    }
    done += static_cast<ULONG_PTR>(r);
    if (r == 0 || (!write && static_cast<std::size_t>(r) < n)) break;  // the end, or what a pipe had
  }
  if (!write && done == 0 && length > 0) {
    // A pipe whose other end has closed is broken (ReadFile: ERROR_BROKEN_PIPE), a file at its end.
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ? STATUS_PIPE_BROKEN : STATUS_END_OF_FILE;
  }
  return STATUS_SUCCESS;
}

NTSTATUS Transfer(bool write, HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                  IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset) {
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  std::optional<LARGE_INTEGER> offset;
  if (ByteOffset) {
    offset = mm::ReadCaller(ByteOffset);
    if (!offset) return STATUS_ACCESS_VIOLATION;
  }
  PVOID object = nullptr;
  NTSTATUS status = ObReferenceObjectByHandle(FileHandle, 0, g_IoFileObjectType, UserMode, &object, nullptr);
  if (!NT_SUCCESS(status)) return status;
  const int fd = io::TailOf(static_cast<FILE_OBJECT*>(object))->hostFd;
  ULONG_PTR information = 0;
  if (fd >= 0) {
    status = HostTransfer(fd, write, Buffer, Length, offset ? &*offset : nullptr, information);
    // Done in the call, but the caller may wait for its event, routine or port packet all the same.
    if (status != STATUS_ACCESS_VIOLATION) {
      io::CompletedAtOnce(static_cast<FILE_OBJECT*>(object),
                          {IoStatusBlock, reinterpret_cast<ob::HandleValue>(Event),
                           reinterpret_cast<std::uint64_t>(ApcContext), reinterpret_cast<std::uint64_t>(ApcRoutine)},
                          status, information);
    }
  } else {
    // A device's file: an IRP to its driver, the buffer passed as the transfer method wants; on an
    // overlapped handle it may pend (completion: the IO_STATUS_BLOCK, the event, the APC or port).
    const auto handle = reinterpret_cast<ob::HandleValue>(FileHandle);
    const std::optional<std::int64_t> at = offset ? std::optional<std::int64_t>(offset->QuadPart) : std::nullopt;
    const io::AsyncRequest async{IoStatusBlock, reinterpret_cast<ob::HandleValue>(Event),
                                 reinterpret_cast<std::uint64_t>(ApcContext),
                                 reinterpret_cast<std::uint64_t>(ApcRoutine)};
    const io::IoStatus r = write ? io::WriteFile(ps::CurrentProcess(), handle, Buffer, Length, at, &async)
                                 : io::ReadFile(ps::CurrentProcess(), handle, Buffer, Length, at, &async);
    status = r.status;
    information = r.information;
  }
  ob::DereferenceObject(object);
  if (status == STATUS_PENDING) return status;
  IO_STATUS_BLOCK iosb{};
  iosb.Status = status;
  iosb.Information = information;
  if (!mm::WriteCaller(IoStatusBlock, iosb)) return STATUS_ACCESS_VIOLATION;
  return status;
}

}  // namespace

NTSTATUS NTAPI NtWriteFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                           IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset,
                           ULONG* Key) {
  (void)Key;
  if (ExGetPreviousMode() == KernelMode) {
    return ZwWriteFile(FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, Buffer, Length, ByteOffset, Key);
  }
  return Transfer(true, FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, Buffer, Length, ByteOffset);
}

NTSTATUS NTAPI NtReadFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                          IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset,
                          ULONG* Key) {
  (void)Key;
  if (ExGetPreviousMode() == KernelMode) {
    return ZwReadFile(FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, Buffer, Length, ByteOffset, Key);
  }
  return Transfer(false, FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, Buffer, Length, ByteOffset);
}

NTSTATUS NTAPI NtDeviceIoControlFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                                     IO_STATUS_BLOCK* IoStatusBlock, ULONG IoControlCode, PVOID InputBuffer,
                                     ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength) {
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  // On a handle opened for overlapped I/O the request may stay with the driver (STATUS_PENDING):
  // its completion writes the IO_STATUS_BLOCK (the caller's OVERLAPPED), signals the event, and
  // posts ApcContext to the file's completion port.
  const io::AsyncRequest async{IoStatusBlock, reinterpret_cast<ob::HandleValue>(Event),
                               reinterpret_cast<std::uint64_t>(ApcContext), reinterpret_cast<std::uint64_t>(ApcRoutine)};
  // The I/O manager builds the IRP for the code's transfer method and probes the buffers there.
  const io::IoStatus r = io::DeviceIoControl(ps::CurrentProcess(), reinterpret_cast<ob::HandleValue>(FileHandle),
                                             IoControlCode, InputBuffer, InputBufferLength, OutputBuffer,
                                             OutputBufferLength, false, &async);
  if (r.status == STATUS_INVALID_HANDLE || r.status == STATUS_PENDING) return r.status;
  IO_STATUS_BLOCK iosb{};
  iosb.Status = r.status;
  iosb.Information = r.information;
  if (!mm::WriteCaller(IoStatusBlock, iosb)) return STATUS_ACCESS_VIOLATION;
  return r.status;
}

namespace {

// CancelIoEx (one request, by its IO_STATUS_BLOCK) or CancelIo (all): STATUS_NOT_FOUND when
// CancelIoEx found nothing pending.
NTSTATUS CancelRequests(HANDLE file, IO_STATUS_BLOCK* request, IO_STATUS_BLOCK* iosb, bool mustFind) {
  if (!mm::ReadCaller(iosb)) return STATUS_ACCESS_VIOLATION;
  const std::size_t cancelled = io::CancelIo(ps::CurrentProcess(), reinterpret_cast<ob::HandleValue>(file), request);
  if (mustFind && !cancelled) return STATUS_NOT_FOUND;
  return mm::WriteCaller(iosb, IO_STATUS_BLOCK{}) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

}  // namespace

NTSTATUS NTAPI NtCancelIoFileEx(HANDLE FileHandle, IO_STATUS_BLOCK* IoRequestToCancel, IO_STATUS_BLOCK* IoStatusBlock) {
  return CancelRequests(FileHandle, IoRequestToCancel, IoStatusBlock, true);
}

// Every request on the handle (Windows: the calling thread's).
NTSTATUS NTAPI NtCancelIoFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock) {
  return CancelRequests(FileHandle, nullptr, IoStatusBlock, false);
}

NTSTATUS NTAPI NtFsControlFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                               IO_STATUS_BLOCK* IoStatusBlock, ULONG FsControlCode, PVOID InputBuffer,
                               ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength) {
  (void)ApcRoutine, (void)ApcContext, (void)InputBuffer, (void)InputBufferLength;
  if (IoStatusBlock && !mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(FileHandle, 0, g_IoFileObjectType); !NT_SUCCESS(s)) return s;
  // Pipes' controls; no other file system control code is served yet.
  return io::PipeFsControl(static_cast<FILE_OBJECT*>(ref.body()), Event, IoStatusBlock, FsControlCode, OutputBuffer,
                           OutputBufferLength);
}

NTSTATUS NTAPI NtQueryVolumeInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FsInformation,
                                            ULONG Length, ULONG FsInformationClass) {
  constexpr ULONG FILE_DEVICE_DISK = 0x7, FILE_DEVICE_NAMED_PIPE = 0x11, FILE_DEVICE_CONSOLE = 0x50;
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(FileHandle, 0, g_IoFileObjectType); !NT_SUCCESS(s)) return s;
  auto* file = static_cast<FILE_OBJECT*>(ref.body());
  const int fd = io::TailOf(file)->hostFd;
  std::vector<std::uint8_t> info;
  std::size_t fixed = 0;
  auto put = [&info](std::size_t at, auto value) {
    if (info.size() < at + sizeof value) info.resize(at + sizeof value);
    std::memcpy(info.data() + at, &value, sizeof value);
  };
  struct stat st {};
  struct statvfs vfs {};
  const bool volume = fd >= 0 && ::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
                      ::fstatvfs(fd, &vfs) == 0;
  switch (FsInformationClass) {
    case 4: {  // FileFsDeviceInformation: DeviceType, Characteristics
      ULONG type = 0, characteristics = 0;
      if (fd >= 0) {
        ::fstat(fd, &st);
        type = S_ISCHR(st.st_mode) ? FILE_DEVICE_CONSOLE
               : S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ? FILE_DEVICE_NAMED_PIPE
                                                               : FILE_DEVICE_DISK;
      } else if (file->DeviceObject) {
        type = file->DeviceObject->DeviceType;
        characteristics = file->DeviceObject->Characteristics;
      }
      fixed = 8;
      put(0, type);
      put(4, characteristics);
      break;
    }
    case 1:  // FileFsVolumeInformation: no label; the serial number from the host device
      if (!volume) return STATUS_INVALID_DEVICE_REQUEST;
      fixed = 0x12;
      info.assign(fixed, 0);
      put(8, static_cast<ULONG>(st.st_dev ^ (st.st_dev >> 32)));
      break;
    case 3:  // FileFsSizeInformation
    case 7: {  // FileFsFullSizeInformation
      if (!volume) return STATUS_INVALID_DEVICE_REQUEST;
      const ULONG bytesPerSector = 512;
      const auto perUnit = static_cast<ULONG>(std::max<unsigned long>(vfs.f_frsize / bytesPerSector, 1));
      const auto units = [&](std::uint64_t blocks) {
        return static_cast<LONGLONG>(blocks * vfs.f_frsize / (std::uint64_t{perUnit} * bytesPerSector));
      };
      put(0, units(vfs.f_blocks));
      put(8, units(vfs.f_bavail));
      if (FsInformationClass == 7) {
        put(16, units(vfs.f_bfree));
        put(24, perUnit);
        put(28, bytesPerSector);
      } else {
        put(16, perUnit);
        put(20, bytesPerSector);
      }
      fixed = info.size();
      break;
    }
    case 5: {  // FileFsAttributeInformation: a case-preserving Unicode file system, as NTFS reports
      if (!volume) return STATUS_INVALID_DEVICE_REQUEST;
      const std::u16string name = u"NTFS";
      put(0, ULONG{0x2 | 0x4});  // FILE_CASE_PRESERVED_NAMES | FILE_UNICODE_ON_DISK
      put(4, static_cast<LONG>(std::min<unsigned long>(vfs.f_namemax, 255)));
      put(8, static_cast<ULONG>(name.size() * 2));
      fixed = 12;
      info.resize(fixed + name.size() * 2);
      std::memcpy(info.data() + fixed, name.data(), name.size() * 2);
      break;
    }
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
  if (Length < fixed) return STATUS_INFO_LENGTH_MISMATCH;
  const std::size_t n = std::min<std::size_t>(Length, info.size());
  if (!mm::WriteCaller(FsInformation, info.data(), n)) return STATUS_ACCESS_VIOLATION;
  IO_STATUS_BLOCK iosb{};
  iosb.Information = n;
  const NTSTATUS status = n < info.size() ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
  iosb.Status = status;
  return mm::WriteCaller(IoStatusBlock, iosb) ? status : STATUS_ACCESS_VIOLATION;
}

NTSTATUS NTAPI NtOpenFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                          IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG OpenOptions) {
  return NtCreateFile(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, nullptr, 0, ShareAccess, FILE_OPEN,
                      OpenOptions, nullptr, 0);
}

namespace {

constexpr ULONG FILE_ATTRIBUTE_READONLY = 0x1, FILE_ATTRIBUTE_DIRECTORY = 0x10, FILE_ATTRIBUTE_ARCHIVE = 0x20;
constexpr ULONG FILE_READ_ATTRIBUTES = 0x80;

// A host time as Windows counts (100 ns since 1601).
LONGLONG FileTime(const struct timespec& t) {
  return (static_cast<LONGLONG>(t.tv_sec) + 11644473600LL) * 10000000LL + t.tv_nsec / 100;
}

ULONG AttributesOf(const struct stat& st) {
  ULONG a = S_ISDIR(st.st_mode) ? FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_ARCHIVE;
  if (!(st.st_mode & S_IWUSR)) a |= FILE_ATTRIBUTE_READONLY;
  return a;
}

// FILE_NETWORK_OPEN_INFORMATION, whose first 0x24 bytes FILE_BASIC_INFORMATION shares but for the
// sizes between (basic: times then attributes; network: times, sizes, attributes).
struct FileTimes {
  LONGLONG creation, access, write, change;
};
FileTimes TimesOf(const struct stat& st) {
  return {FileTime(st.st_mtim), FileTime(st.st_atim), FileTime(st.st_mtim), FileTime(st.st_ctim)};
}

// The host file behind a program's handle (referenced), or an error.
class HostFileRef {
 public:
  NTSTATUS Open(HANDLE handle) {
    if (const NTSTATUS s = ref_.Open(handle, 0, g_IoFileObjectType); !NT_SUCCESS(s)) return s;
    fd_ = io::TailOf(static_cast<FILE_OBJECT*>(ref_.body()))->hostFd;
    return fd_ >= 0 ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_REQUEST;  // a device's: its driver would answer
  }
  int fd() const { return fd_; }

 private:
  ob::HandleReference ref_;
  int fd_ = -1;
};

// What the file an OBJECT_ATTRIBUTES names is, without keeping it open.
NTSTATUS StatByName(const OBJECT_ATTRIBUTES* attributes, struct stat& st) {
  HANDLE handle = nullptr;
  if (const NTSTATUS s = OpenByName(attributes, FILE_READ_ATTRIBUTES, 7, FILE_OPEN, 0, handle); !NT_SUCCESS(s)) return s;
  HostFileRef file;
  NTSTATUS status = file.Open(handle);
  if (NT_SUCCESS(status) && ::fstat(file.fd(), &st) != 0) status = io::StatusOfErrno(errno);
  (void)NtClose(handle);
  return status;
}

std::vector<std::uint8_t> NetworkOpenInformation(const struct stat& st) {
  std::vector<std::uint8_t> out(0x38);
  const FileTimes t = TimesOf(st);
  std::memcpy(out.data(), &t, sizeof t);
  const LONGLONG allocation = static_cast<LONGLONG>(st.st_blocks) * 512, size = st.st_size;
  std::memcpy(out.data() + 0x20, &allocation, 8);
  std::memcpy(out.data() + 0x28, &size, 8);
  const ULONG attributes = AttributesOf(st);
  std::memcpy(out.data() + 0x30, &attributes, 4);
  return out;
}

std::vector<std::uint8_t> BasicInformation(const struct stat& st) {
  std::vector<std::uint8_t> out(0x28);
  const FileTimes t = TimesOf(st);
  std::memcpy(out.data(), &t, sizeof t);
  const ULONG attributes = AttributesOf(st);
  std::memcpy(out.data() + 0x20, &attributes, 4);
  return out;
}

NTSTATUS ReturnFileInformation(const std::vector<std::uint8_t>& info, PVOID buffer, ULONG length,
                               IO_STATUS_BLOCK* iosb) {
  if (length < info.size()) return STATUS_INFO_LENGTH_MISMATCH;
  if (!mm::WriteCaller(buffer, info.data(), info.size())) return STATUS_ACCESS_VIOLATION;
  IO_STATUS_BLOCK done{};
  done.Information = info.size();
  if (iosb && !mm::WriteCaller(iosb, done)) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

}  // namespace

NTSTATUS NTAPI NtQueryAttributesFile(OBJECT_ATTRIBUTES* ObjectAttributes, PVOID FileInformation) {
  struct stat st {};
  if (const NTSTATUS s = StatByName(ObjectAttributes, st); !NT_SUCCESS(s)) return s;
  return ReturnFileInformation(BasicInformation(st), FileInformation, 0x28, nullptr);
}

NTSTATUS NTAPI NtQueryFullAttributesFile(OBJECT_ATTRIBUTES* ObjectAttributes, PVOID FileInformation) {
  struct stat st {};
  if (const NTSTATUS s = StatByName(ObjectAttributes, st); !NT_SUCCESS(s)) return s;
  return ReturnFileInformation(NetworkOpenInformation(st), FileInformation, 0x38, nullptr);
}

NTSTATUS NTAPI NtQueryInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                      ULONG Length, ULONG FileInformationClass) {
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  HostFileRef file;
  if (const NTSTATUS s = file.Open(FileHandle); !NT_SUCCESS(s)) return s;
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) return io::StatusOfErrno(errno);
  std::vector<std::uint8_t> info;
  switch (FileInformationClass) {
    case 4:  // FileBasicInformation
      info = BasicInformation(st);
      break;
    case 5: {  // FileStandardInformation
      info.assign(0x18, 0);
      const LONGLONG allocation = static_cast<LONGLONG>(st.st_blocks) * 512, size = st.st_size;
      const ULONG links = static_cast<ULONG>(st.st_nlink);
      std::memcpy(info.data(), &allocation, 8);
      std::memcpy(info.data() + 8, &size, 8);
      std::memcpy(info.data() + 0x10, &links, 4);
      info[0x15] = S_ISDIR(st.st_mode) ? 1 : 0;  // Directory (DeletePending at 0x14 stays 0)
      break;
    }
    case 14: {  // FilePositionInformation
      const off_t at = ::lseek(file.fd(), 0, SEEK_CUR);
      const LONGLONG position = at < 0 ? 0 : at;  // a pipe or terminal has none
      info.assign(8, 0);
      std::memcpy(info.data(), &position, 8);
      break;
    }
    case 34:  // FileNetworkOpenInformation
      info = NetworkOpenInformation(st);
      break;
    case 35: {  // FileAttributeTagInformation
      info.assign(8, 0);
      const ULONG attributes = AttributesOf(st);
      std::memcpy(info.data(), &attributes, 4);
      break;
    }
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
  return ReturnFileInformation(info, FileInformation, Length, IoStatusBlock);
}

NTSTATUS NTAPI NtSetInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                    ULONG Length, ULONG FileInformationClass) {
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  if (FileInformationClass == 30) {  // FileCompletionInformation: { Port, Key }, any file, a device's too
    std::uint64_t info[2];
    if (Length < sizeof info) return STATUS_INFO_LENGTH_MISMATCH;
    if (!mm::ReadCaller(info, FileInformation, sizeof info)) return STATUS_ACCESS_VIOLATION;
    ob::HandleReference file;
    if (const NTSTATUS s = file.Open(FileHandle, 0, g_IoFileObjectType); !NT_SUCCESS(s)) return s;
    const NTSTATUS s = io::AssociateCompletionPort(static_cast<FILE_OBJECT*>(file.body()),
                                                   reinterpret_cast<HANDLE>(info[0]), info[1]);
    if (!NT_SUCCESS(s)) return s;
    return mm::WriteCaller(IoStatusBlock, IO_STATUS_BLOCK{}) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
  }
  if (FileInformationClass != 14 && FileInformationClass != 20) return STATUS_INVALID_INFO_CLASS;  // position, end
  if (Length < 8) return STATUS_INFO_LENGTH_MISMATCH;
  const auto value = mm::ReadCaller(static_cast<const LONGLONG*>(FileInformation));
  if (!value) return STATUS_ACCESS_VIOLATION;
  if (*value < 0) return STATUS_INVALID_PARAMETER;
  HostFileRef file;
  if (const NTSTATUS s = file.Open(FileHandle); !NT_SUCCESS(s)) return s;
  const int r = FileInformationClass == 14 ? (::lseek(file.fd(), *value, SEEK_SET) < 0 ? -1 : 0)
                                           : ::ftruncate(file.fd(), *value);
  if (r != 0) return io::StatusOfErrno(errno);
  return mm::WriteCaller(IoStatusBlock, IO_STATUS_BLOCK{}) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

namespace io {

struct DirectoryScan {
  struct Entry {
    std::string name;
    struct stat st;
  };
  std::vector<Entry> entries;
  std::size_t next = 0;
  std::u16string mask = u"*";
  bool returnedAny = false;
};

void DeleteDirectoryScan(DirectoryScan* scan) { delete scan; }

}  // namespace io

namespace {

// DOS wildcards as the file systems match them, without case: * ? and the < > " that
// FindFirstFile's "*.*" and "?" become.
bool MatchesMask(std::u16string_view name, std::u16string_view mask) {
  if (mask.empty()) return name.empty();
  const char16_t m = mask[0];
  if (m == u'*' || m == u'<') {
    for (std::size_t skip = 0; skip <= name.size(); ++skip) {
      if (MatchesMask(name.substr(skip), mask.substr(1))) return true;
    }
    return false;
  }
  if (m == u'>') return (!name.empty() && name[0] != u'.' && MatchesMask(name.substr(1), mask.substr(1))) ||
                        MatchesMask(name, mask.substr(1));
  if (m == u'"') return (!name.empty() && name[0] == u'.' && MatchesMask(name.substr(1), mask.substr(1))) ||
                        (name.empty() && MatchesMask(name, mask.substr(1)));
  if (name.empty()) return false;
  if (m != u'?' && ob::UpcaseName(std::u16string(1, m)) != ob::UpcaseName(std::u16string(1, name[0]))) return false;
  return MatchesMask(name.substr(1), mask.substr(1));
}

// An entry of a directory the program's client opened, where the server may not look: the
// client opens the entry too.
bool StatThroughOpener(int dir, const std::string& name, struct stat& st) {
  HostFileOpener* opener = CurrentHostFileOpener();
  struct stat d {};
  if (!opener || errno != EACCES || ::fstat(dir, &d) != 0) return false;
  auto components = opener->ComponentsOf(d.st_dev, d.st_ino);
  if (!components) return false;
  if (name == "." || name == "..") return name == "." && (st = d, true);
  components->push_back(name);
  const int fd = opener->Open(*components);
  if (fd < 0) return false;
  const bool ok = ::fstat(fd, &st) == 0;
  ::close(fd);
  return ok;
}

// The directory's entries, sorted without case as NTFS returns them; "." and ".." first, but for
// a volume's root.
io::DirectoryScan* ScanDirectory(int fd, bool root) {
  auto* scan = new io::DirectoryScan();
  const int copy = ::dup(fd);
  DIR* d = copy >= 0 ? ::fdopendir(copy) : nullptr;
  if (!d) {
    if (copy >= 0) ::close(copy);
    return scan;
  }
  ::rewinddir(d);
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (root && (name == "." || name == "..")) continue;
    io::DirectoryScan::Entry entry{name, {}};
    if (::fstatat(fd, e->d_name, &entry.st, 0) != 0 && ::fstatat(fd, e->d_name, &entry.st, AT_SYMLINK_NOFOLLOW) != 0 &&
        !StatThroughOpener(fd, name, entry.st)) {
      continue;
    }
    scan->entries.push_back(std::move(entry));
  }
  ::closedir(d);
  std::sort(scan->entries.begin(), scan->entries.end(), [](const auto& a, const auto& b) {
    const bool dotA = a.name == "." || a.name == "..", dotB = b.name == "." || b.name == "..";
    if (dotA != dotB) return dotA;
    return ob::UpcaseName(Utf8ToUtf16(a.name)) < ob::UpcaseName(Utf8ToUtf16(b.name));
  });
  return scan;
}

// One entry in the information class's layout: the fixed part's size and where the name goes.
struct DirectoryLayout {
  std::size_t nameAt;
  bool times;   // Directory, Full, Both and the Id forms carry times, sizes and attributes
  std::size_t eaAt, shortNameAt, fileIdAt;  // 0: none
};
std::optional<DirectoryLayout> LayoutOf(ULONG infoClass) {
  switch (infoClass) {
    case 1: return DirectoryLayout{0x40, true, 0, 0, 0};        // FileDirectoryInformation
    case 2: return DirectoryLayout{0x44, true, 0x40, 0, 0};     // FileFullDirectoryInformation
    case 3: return DirectoryLayout{0x5E, true, 0x40, 0x44, 0};  // FileBothDirectoryInformation
    case 12: return DirectoryLayout{0x0C, false, 0, 0, 0};      // FileNamesInformation
    case 37: return DirectoryLayout{0x68, true, 0x40, 0x44, 0x60};  // FileIdBothDirectoryInformation
    case 38: return DirectoryLayout{0x50, true, 0x40, 0, 0x48};     // FileIdFullDirectoryInformation
    default: return std::nullopt;
  }
}

void PutEntry(std::vector<std::uint8_t>& out, std::size_t at, const DirectoryLayout& layout,
              const io::DirectoryScan::Entry& e, std::u16string_view name) {
  auto put = [&](std::size_t offset, auto value) { std::memcpy(out.data() + at + offset, &value, sizeof value); };
  const auto nameBytes = static_cast<ULONG>(name.size() * 2);
  if (layout.times) {
    const FileTimes t = TimesOf(e.st);
    std::memcpy(out.data() + at + 8, &t, sizeof t);
    put(0x28, static_cast<LONGLONG>(e.st.st_size));
    put(0x30, static_cast<LONGLONG>(e.st.st_blocks) * 512);
    put(0x38, AttributesOf(e.st));
    put(0x3C, nameBytes);
  } else {
    put(0x08, nameBytes);
  }
  if (layout.fileIdAt) put(layout.fileIdAt, static_cast<LONGLONG>(e.st.st_ino));
  std::memcpy(out.data() + at + layout.nameAt, name.data(), nameBytes);
}

}  // namespace

NTSTATUS NTAPI NtQueryDirectoryFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                                    IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation, ULONG Length,
                                    ULONG FileInformationClass, BOOLEAN ReturnSingleEntry, UNICODE_STRING* FileName,
                                    BOOLEAN RestartScan) {
  (void)Event, (void)ApcRoutine, (void)ApcContext;  // listings are synchronous
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  const auto layout = LayoutOf(FileInformationClass);
  if (!layout) return STATUS_INVALID_INFO_CLASS;
  if (Length < layout->nameAt) return STATUS_INFO_LENGTH_MISMATCH;
  std::optional<std::u16string> mask;
  if (FileName) {
    const auto u = mm::ReadCaller(FileName);
    if (!u) return STATUS_ACCESS_VIOLATION;
    mask.emplace(u->Length / 2, u'\0');
    if (!mm::ReadCaller(mask->data(), u->Buffer, u->Length & ~1u)) return STATUS_ACCESS_VIOLATION;
  }
  ob::HandleReference ref;
  if (const NTSTATUS s = ref.Open(FileHandle, 0x1 /* FILE_LIST_DIRECTORY */, g_IoFileObjectType); !NT_SUCCESS(s)) {
    return s;
  }
  auto* file = static_cast<FILE_OBJECT*>(ref.body());
  io::FileTail* tail = io::TailOf(file);
  if (tail->hostFd < 0 || !tail->directory) return STATUS_INVALID_PARAMETER;
  // The mask counts on the first call (or a restart) only, as on Windows.
  if (!tail->scan || RestartScan) {
    const std::u16string_view fileName(file->FileName.Buffer, file->FileName.Length / 2);
    const bool root = fileName.size() <= 7 && fileName.ends_with(u":\\");  // \??\C:\ ...
    io::DeleteDirectoryScan(tail->scan);
    tail->scan = ScanDirectory(tail->hostFd, root);
    if (mask && !mask->empty()) tail->scan->mask = *mask;
  }
  io::DirectoryScan& scan = *tail->scan;
  std::vector<std::uint8_t> out(Length, 0);
  std::size_t used = 0, previous = SIZE_MAX;
  NTSTATUS status = STATUS_SUCCESS;
  while (scan.next < scan.entries.size()) {
    const auto& e = scan.entries[scan.next];
    const std::u16string name = Utf8ToUtf16(e.name);
    if (!MatchesMask(name, scan.mask)) {
      ++scan.next;
      continue;
    }
    const std::size_t at = (used + 7) & ~std::size_t{7};
    const std::size_t size = layout->nameAt + name.size() * 2;
    if (at + size > Length) {
      if (previous == SIZE_MAX) {
        // Not even one entry fits: its fixed part and as much of the name as does, this entry again next time.
        PutEntry(out, 0, *layout, e, name.substr(0, (Length - layout->nameAt) / 2));
        used = Length;
        status = STATUS_BUFFER_OVERFLOW;
      }
      break;
    }
    if (previous != SIZE_MAX) {
      const auto offset = static_cast<ULONG>(at - previous);
      std::memcpy(out.data() + previous, &offset, 4);
    }
    PutEntry(out, at, *layout, e, name);
    previous = at;
    used = at + size;
    ++scan.next;
    scan.returnedAny = true;
    if (ReturnSingleEntry) break;
  }
  if (used == 0) status = scan.returnedAny ? STATUS_NO_MORE_FILES : STATUS_NO_SUCH_FILE;
  if (used && !mm::WriteCaller(FileInformation, out.data(), used)) return STATUS_ACCESS_VIOLATION;
  IO_STATUS_BLOCK iosb{};
  iosb.Status = status;
  iosb.Information = used;
  if (!mm::WriteCaller(IoStatusBlock, iosb)) return STATUS_ACCESS_VIOLATION;
  return status;
}

}  // namespace ntbox::nt
