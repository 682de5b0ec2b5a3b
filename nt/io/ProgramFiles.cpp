// NtCreateFile and NtOpenFile for programs: names captured from the caller, then resolved on the
// machine's volumes as Windows' object manager and file systems would, without regard to case:
// C: is the machine's drive (C:\windows\system32 also shows the system DLLs, Wine's PE builds,
// read-only), Z: the host's root (read-only until the sandbox hands files through the client), and
// any other name a device (\??\IoctlTest, \Device\Null). Drivers' calls (KernelMode) are ZwCreateFile's.
#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
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
#include "nt/ke/Thread.h"
#include "nt/mm/Probe.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObTypes.h"
#include "nt/ob/Object.h"
#include "nt/ps/Process.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

constexpr ULONG FILE_OPEN = 1, FILE_OPEN_IF = 3;
constexpr ULONG FILE_DIRECTORY_FILE = 0x1, FILE_NON_DIRECTORY_FILE = 0x40;
constexpr ACCESS_MASK kWriteAccess = 0x40000000 /* GENERIC_WRITE */ | 0x10000000 /* GENERIC_ALL */ | 0x2 |
                                     0x4 | 0x10 | 0x100 | 0x10000 /* DELETE */ | 0x40000 | 0x80000;

// A name from the caller's OBJECT_ATTRIBUTES, copied into the kernel.
NTSTATUS CaptureName(const OBJECT_ATTRIBUTES* attributes, std::u16string& name, ULONG& attributeFlags) {
  ob::CapturedAttributes a;
  if (const NTSTATUS s = ob::CaptureAttributes(attributes, a); s != STATUS_SUCCESS) return s;
  if (a.root) return STATUS_NOT_IMPLEMENTED;  // relative opens come with directory handles
  name = std::move(a.name);
  attributeFlags = a.attributes;
  return STATUS_SUCCESS;
}

bool EqualNoCase(std::u16string_view a, std::u16string_view b) { return ob::UpcaseName(a) == ob::UpcaseName(b); }

// Opens name in directory dir, matching its case or, failing that, any entry equal without case.
int OpenComponent(int dir, const std::string& name, int flags) {
  int fd = ::openat(dir, name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0 || errno != ENOENT) return fd;
  const int scan = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (scan < 0) return -1;
  DIR* d = ::fdopendir(scan);
  if (!d) {
    ::close(scan);
    return -1;
  }
  std::string match;
  while (const dirent* e = ::readdir(d)) {
    if (::strcasecmp(e->d_name, name.c_str()) == 0) {
      match = e->d_name;
      break;
    }
  }
  ::closedir(d);
  if (match.empty()) {
    errno = ENOENT;
    return -1;
  }
  return ::openat(dir, match.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
}

// A missing folder on the way is a path not found, the missing last component a name not found.
NTSTATUS FromErrno(int e, bool last) {
  return e == ENOENT && !last ? STATUS_OBJECT_PATH_NOT_FOUND : io::StatusOfErrno(e);
}

// Walks components from root (an open directory, consumed), each without regard to case.
NTSTATUS Walk(int root, const std::vector<std::string>& parts, ULONG options, int& out, bool& directory) {
  int dir = root;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    int fd = OpenComponent(dir, parts[i], last ? O_RDONLY : O_RDONLY | O_DIRECTORY);
    const int error = errno;
    ::close(dir);
    if (fd < 0) return FromErrno(error, last);
    dir = fd;
  }
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

NTSTATUS OpenOnVolume(const std::u16string& ntName, std::u16string_view rest, ACCESS_MASK access, ULONG disposition,
                      ULONG options, HANDLE* handle) {
  const char16_t drive = static_cast<char16_t>(rest[0] & ~0x20);
  const std::vector<std::string> parts = Components(rest.substr(2));
  for (const auto& p : parts) {
    if (p == "." || p == ".." || p.find_first_of("/:*?\"<>|") != std::string::npos) return STATUS_OBJECT_NAME_INVALID;
  }
  const bool wantsWrite = (access & kWriteAccess) || (disposition != FILE_OPEN && disposition != FILE_OPEN_IF);
  const auto& config = Kernel::Current().config();
  int root = -1;
  std::vector<std::string> walk = parts;
  if (drive == u'C' && parts.size() == 3 && !config.systemDlls.empty() &&
      EqualNoCase(ob::Widen(parts[0]), u"windows") && EqualNoCase(ob::Widen(parts[1]), u"system32")) {
    // C:\windows\system32\X.dll: the system DLLs, when there is one by that name.
    const int dlls = ::open(config.systemDlls.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int probe = dlls >= 0 ? OpenComponent(dlls, parts[2], O_RDONLY) : -1;
    if (probe >= 0) {
      ::close(probe);
      if (wantsWrite) {
        ::close(dlls);
        return STATUS_ACCESS_DENIED;
      }
      root = dlls;
      walk = {parts[2]};
    } else if (dlls >= 0) {
      ::close(dlls);
    }
  }
  if (root < 0) {
    if (drive == u'C') {
      if (wantsWrite) {
        // Creating and writing: the kernel's own drive I/O (case as given), the handle the program's.
        UNICODE_STRING u{static_cast<USHORT>(ntName.size() * 2), static_cast<USHORT>(ntName.size() * 2),
                         const_cast<char16_t*>(ntName.data())};
        OBJECT_ATTRIBUTES a{sizeof(OBJECT_ATTRIBUTES), nullptr, &u, OBJ_CASE_INSENSITIVE, nullptr, nullptr};
        IO_STATUS_BLOCK iosb{};
        return ZwCreateFile(handle, access, &a, &iosb, nullptr, 0, 0, disposition, options, nullptr, 0);
      }
      root = ::open(config.systemDrive.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else if (drive == u'Z') {
      if (wantsWrite) return STATUS_ACCESS_DENIED;
      root = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
      return STATUS_OBJECT_PATH_NOT_FOUND;
    }
  }
  if (root < 0) return STATUS_OBJECT_PATH_NOT_FOUND;
  int fd = -1;
  bool directory = false;
  if (const NTSTATUS s = Walk(root, walk, options, fd, directory); s != STATUS_SUCCESS) return s;
  return io::InsertHostFile(fd, directory, ntName, access, handle);
}

}  // namespace

NTSTATUS NTAPI NtCreateFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                            IO_STATUS_BLOCK* IoStatusBlock, LARGE_INTEGER* AllocationSize, ULONG FileAttributes,
                            ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer,
                            ULONG EaLength) {
  if (ExGetPreviousMode() == KernelMode) {
    return ZwCreateFile(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, AllocationSize, FileAttributes,
                        ShareAccess, CreateDisposition, CreateOptions, EaBuffer, EaLength);
  }
  if (!mm::WriteCaller(FileHandle, HANDLE{}) || !mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  std::u16string name;
  ULONG attributes = 0;
  if (const NTSTATUS s = CaptureName(ObjectAttributes, name, attributes); s != STATUS_SUCCESS) return s;
  std::u16string_view rest = name;
  for (std::u16string_view prefix : {u"\\??\\", u"\\DosDevices\\", u"\\GLOBAL??\\"}) {
    if (rest.size() >= prefix.size() && EqualNoCase(rest.substr(0, prefix.size()), prefix)) {
      rest = rest.substr(prefix.size());
      break;
    }
  }
  HANDLE handle = nullptr;
  NTSTATUS status;
  if (rest.size() >= 2 && rest[1] == u':' && rest != std::u16string_view(name)) {
    status = OpenOnVolume(name, rest, DesiredAccess, CreateDisposition, CreateOptions, &handle);
  } else {
    auto opened = io::OpenFile(ps::CurrentProcess(), name, DesiredAccess, ShareAccess,
                               !(CreateOptions & 0x30) /* neither FILE_SYNCHRONOUS_IO_(NON)ALERT */);
    status = opened ? STATUS_SUCCESS : opened.error();
    if (opened) handle = reinterpret_cast<HANDLE>(*opened);
  }
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

// A transfer on a file the kernel holds a host descriptor for (the machine's drives, the console
// the client lent): the caller's buffer copied in chunks, never touched directly.
NTSTATUS HostTransfer(int fd, bool write, PVOID buffer, ULONG length, const LARGE_INTEGER* offset, ULONG_PTR& done) {
  constexpr std::size_t kChunk = 64 * 1024;
  std::vector<std::uint8_t> chunk(std::min<std::size_t>(length, kChunk));
  std::optional<std::int64_t> at;
  if (offset && offset->QuadPart >= 0) at = offset->QuadPart;
  done = 0;
  while (done < length) {
    const std::size_t n = std::min<std::size_t>(length - done, kChunk);
    auto* user = static_cast<std::uint8_t*>(buffer) + done;
    if (write && !mm::ReadCaller(chunk.data(), user, n)) return STATUS_ACCESS_VIOLATION;
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
  return !write && done == 0 && length > 0 ? STATUS_END_OF_FILE : STATUS_SUCCESS;
}

NTSTATUS Transfer(bool write, HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length,
                  LARGE_INTEGER* ByteOffset) {
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
  } else {
    // A device's file: an IRP to its driver, the buffer passed as the transfer method wants.
    const auto handle = reinterpret_cast<ob::HandleValue>(FileHandle);
    const std::optional<std::int64_t> at = offset ? std::optional<std::int64_t>(offset->QuadPart) : std::nullopt;
    const io::IoStatus r = write ? io::WriteFile(ps::CurrentProcess(), handle, Buffer, Length, at)
                                 : io::ReadFile(ps::CurrentProcess(), handle, Buffer, Length, at);
    status = r.status;
    information = r.information;
  }
  ob::DereferenceObject(object);
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
  (void)Event, (void)ApcRoutine, (void)ApcContext, (void)Key;  // synchronous so far
  if (ExGetPreviousMode() == KernelMode) {
    return ZwWriteFile(FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, Buffer, Length, ByteOffset, Key);
  }
  return Transfer(true, FileHandle, IoStatusBlock, Buffer, Length, ByteOffset);
}

NTSTATUS NTAPI NtReadFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                          IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset,
                          ULONG* Key) {
  (void)Event, (void)ApcRoutine, (void)ApcContext, (void)Key;
  if (ExGetPreviousMode() == KernelMode) {
    return ZwReadFile(FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, Buffer, Length, ByteOffset, Key);
  }
  return Transfer(false, FileHandle, IoStatusBlock, Buffer, Length, ByteOffset);
}

NTSTATUS NTAPI NtDeviceIoControlFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                                     IO_STATUS_BLOCK* IoStatusBlock, ULONG IoControlCode, PVOID InputBuffer,
                                     ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength) {
  (void)Event, (void)ApcRoutine, (void)ApcContext;  // synchronous so far
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  // The I/O manager builds the IRP for the code's transfer method and probes the buffers there.
  const io::IoStatus r = io::DeviceIoControl(ps::CurrentProcess(), reinterpret_cast<ob::HandleValue>(FileHandle),
                                             IoControlCode, InputBuffer, InputBufferLength, OutputBuffer,
                                             OutputBufferLength);
  if (r.status == STATUS_INVALID_HANDLE) return r.status;
  IO_STATUS_BLOCK iosb{};
  iosb.Status = r.status;
  iosb.Information = r.information;
  if (!mm::WriteCaller(IoStatusBlock, iosb)) return STATUS_ACCESS_VIOLATION;
  return r.status;
}

NTSTATUS NTAPI NtFsControlFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                               IO_STATUS_BLOCK* IoStatusBlock, ULONG FsControlCode, PVOID InputBuffer,
                               ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength) {
  (void)Event, (void)ApcRoutine, (void)ApcContext, (void)IoStatusBlock, (void)FsControlCode, (void)InputBuffer;
  (void)InputBufferLength, (void)OutputBuffer, (void)OutputBufferLength;
  PVOID object = nullptr;
  const NTSTATUS status = ObReferenceObjectByHandle(FileHandle, 0, g_IoFileObjectType, ExGetPreviousMode(), &object, nullptr);
  if (!NT_SUCCESS(status)) return status;
  ob::DereferenceObject(object);
  return STATUS_INVALID_DEVICE_REQUEST;  // no file system control codes are served yet
}

NTSTATUS NTAPI NtQueryVolumeInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FsInformation,
                                            ULONG Length, ULONG FsInformationClass) {
  constexpr ULONG FileFsDeviceInformation = 4;
  constexpr ULONG FILE_DEVICE_DISK = 0x7, FILE_DEVICE_NAMED_PIPE = 0x11, FILE_DEVICE_CONSOLE = 0x50;
  if (!mm::ReadCaller(IoStatusBlock)) return STATUS_ACCESS_VIOLATION;
  if (FsInformationClass != FileFsDeviceInformation) return STATUS_INVALID_INFO_CLASS;  // the others: later
  if (Length < 8) return STATUS_INFO_LENGTH_MISMATCH;
  PVOID object = nullptr;
  const NTSTATUS status = ObReferenceObjectByHandle(FileHandle, 0, g_IoFileObjectType, ExGetPreviousMode(), &object, nullptr);
  if (!NT_SUCCESS(status)) return status;
  auto* file = static_cast<FILE_OBJECT*>(object);
  const int fd = io::TailOf(file)->hostFd;
  ULONG info[2] = {0, 0};  // DeviceType, Characteristics
  if (fd >= 0) {
    struct stat st {};
    ::fstat(fd, &st);
    info[0] = S_ISCHR(st.st_mode) ? FILE_DEVICE_CONSOLE : S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ? FILE_DEVICE_NAMED_PIPE
                                                                                                      : FILE_DEVICE_DISK;
  } else if (file->DeviceObject) {
    info[0] = file->DeviceObject->DeviceType;
    info[1] = file->DeviceObject->Characteristics;
  }
  ob::DereferenceObject(object);
  if (!mm::WriteCaller(FsInformation, info, sizeof info)) return STATUS_ACCESS_VIOLATION;
  IO_STATUS_BLOCK iosb{};
  iosb.Information = sizeof info;
  return mm::WriteCaller(IoStatusBlock, iosb) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

NTSTATUS NTAPI NtOpenFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                          IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG OpenOptions) {
  return NtCreateFile(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, nullptr, 0, ShareAccess, FILE_OPEN,
                      OpenOptions, nullptr, 0);
}

}  // namespace ntbox::nt
