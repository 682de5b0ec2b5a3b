// Kernel file I/O on the machine's drive: ZwCreateFile & co. on \??\C:\..., \DosDevices\C:\...,
// \GLOBAL??\C:\... and \SystemRoot\... (C:\Windows). The drive is a host folder; every open is
// resolved beneath it by the host kernel (openat2 RESOLVE_BENEATH), so no name reaches outside it:
// not "..", not a host symlink, not another drive. Refusals fail with an NTSTATUS and are logged.
#include "nt/io/DriveFile.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoExports.h"
#include "nt/io/IoServices.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ke/KeExports.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObTypes.h"
#include "nt/ob/Object.h"
#include "nt/rtl/RtlTypes.h"
#include "support/Utf16.h"

namespace ntbox::nt {
namespace {

// CreateDisposition and what IoStatus.Information reports.
constexpr ULONG FILE_SUPERSEDE = 0, FILE_OPEN = 1, FILE_CREATE = 2, FILE_OPEN_IF = 3, FILE_OVERWRITE = 4,
                FILE_OVERWRITE_IF = 5;
constexpr ULONG_PTR FILE_SUPERSEDED = 0, FILE_OPENED = 1, FILE_CREATED = 2, FILE_OVERWRITTEN = 3;
// CreateOptions.
constexpr ULONG FILE_DIRECTORY_FILE = 0x1, FILE_NON_DIRECTORY_FILE = 0x40, FILE_DELETE_ON_CLOSE = 0x1000;
// FileInformationClass.
constexpr int FileBasicInformation = 4, FileStandardInformation = 5, FileDispositionInformation = 13,
              FilePositionInformation = 14, FileEndOfFileInformation = 20, FileNetworkOpenInformation = 34;
constexpr ULONG FILE_ATTRIBUTE_DIRECTORY = 0x10, FILE_ATTRIBUTE_NORMAL = 0x80;
constexpr LONG FILE_USE_FILE_POINTER_POSITION = -2;  // ByteOffset.HighPart
constexpr LONGLONG FILE_WRITE_TO_END_OF_FILE = -1;
constexpr std::uint64_t kEpochDifference100ns = 116444736000000000ull;

void Refused(std::string_view service, std::string_view name, NTSTATUS status, std::string_view why) {
  Kernel::Current().DebugOutput(kNtboxComponent, 0,
                                fmt::format("{}: '{}' refused: {} (status 0x{:08X})\n", service, name, why,
                                            static_cast<std::uint32_t>(status)));
}

// Names Windows reserves for devices in every directory: CON, PRN, AUX, NUL, COM1-9, LPT1-9, with
// or without an extension ("NUL.txt" is NUL too). They are never files on the drive.
enum class DosDevice { kNone, kNull, kOther };

DosDevice DosDeviceNamed(std::u16string_view name) {
  std::u16string base = ob::UpcaseName(name.substr(0, std::min(name.find(u'.'), name.size())));
  while (!base.empty() && base.back() == u' ') base.pop_back();
  if (base == u"NUL") return DosDevice::kNull;
  if (base == u"CON" || base == u"PRN" || base == u"AUX") return DosDevice::kOther;
  if (base.size() == 4 && (base.starts_with(u"COM") || base.starts_with(u"LPT")) && base[3] >= u'1' &&
      base[3] <= u'9') {
    return DosDevice::kOther;
  }
  return DosDevice::kNone;
}

struct DrivePath {
  std::string parent;  // relative to the drive, "." for its root
  std::string leaf;    // the last component ("" for the root itself)
  DosDevice device = DosDevice::kNone;
};

// The NT name as a path inside the C: drive, or the status that refuses it.
std::expected<DrivePath, NTSTATUS> Resolve(std::string_view service, const OBJECT_ATTRIBUTES* attributes) {
  if (!attributes || !attributes->ObjectName || !attributes->ObjectName->Buffer) return std::unexpected(STATUS_INVALID_PARAMETER);
  const UNICODE_STRING& u = *attributes->ObjectName;
  const std::u16string_view full(u.Buffer, u.Length / 2);
  const std::string shown = Utf16ToUtf8(full);
  if (attributes->RootDirectory) {
    Refused(service, shown, STATUS_NOT_IMPLEMENTED, "names relative to a RootDirectory handle are not supported");
    return std::unexpected(STATUS_NOT_IMPLEMENTED);
  }
  std::u16string_view rest;
  std::u16string prefix;
  if (ob::StartsWithNoCase(full, u"\\SystemRoot\\") || ob::UpcaseName(full) == u"\\SYSTEMROOT") {
    prefix = u"Windows\\";
    rest = full.size() > 12 ? full.substr(12) : std::u16string_view();
  } else {
    for (std::u16string_view p : {u"\\??\\", u"\\DosDevices\\", u"\\GLOBAL??\\"}) {
      if (ob::StartsWithNoCase(full, p)) {
        rest = full.substr(p.size());
        break;
      }
    }
    if (rest.empty() && !ob::StartsWithNoCase(full, u"\\??\\")) {
      Refused(service, shown, STATUS_OBJECT_PATH_SYNTAX_BAD, "not a name on a drive (\\??\\C:\\..., \\SystemRoot\\...)");
      return std::unexpected(STATUS_OBJECT_PATH_SYNTAX_BAD);
    }
    if (const DosDevice device = DosDeviceNamed(rest); device != DosDevice::kNone && rest.find(u'\\') == rest.npos) {
      return DrivePath{".", Utf16ToUtf8(rest), device};  // \??\NUL
    }
    if (rest.size() < 2 || rest[1] != u':' || (rest[0] != u'C' && rest[0] != u'c')) {
      Refused(service, shown, STATUS_OBJECT_PATH_NOT_FOUND, "the machine has one drive for kernel file I/O, C:");
      return std::unexpected(STATUS_OBJECT_PATH_NOT_FOUND);
    }
    rest = rest.substr(2);
    if (!rest.empty() && rest[0] == u'\\') rest = rest.substr(1);
  }
  std::u16string path = prefix + std::u16string(rest);
  // Split into components; "." and ".." are not names on Windows' file systems.
  std::vector<std::string> parts;
  DosDevice device = DosDevice::kNone;  // of the last component
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(u'\\', start), path.size());
    const std::u16string_view part = std::u16string_view(path).substr(start, end - start);
    if (part == u"." || part == u"..") {
      Refused(service, shown, STATUS_OBJECT_NAME_INVALID, "'.' and '..' may not leave the machine's drive");
      return std::unexpected(STATUS_OBJECT_NAME_INVALID);
    }
    if (part.find_first_of(u"/\0:*?\"<>|", 0, 9) != std::u16string_view::npos) {
      Refused(service, shown, STATUS_OBJECT_NAME_INVALID, "a character Windows does not allow in a file name");
      return std::unexpected(STATUS_OBJECT_NAME_INVALID);
    }
    if (!part.empty()) {
      parts.push_back(Utf16ToUtf8(part));
      device = DosDeviceNamed(part);
    }
    start = end + 1;
  }
  DrivePath out{".", ""};
  if (parts.empty()) return out;
  out.leaf = parts.back();
  out.device = device;
  parts.pop_back();
  if (!parts.empty()) {
    out.parent.clear();
    for (const auto& p : parts) out.parent += (out.parent.empty() ? "" : "/") + p;
  }
  return out;
}

}  // namespace

NTSTATUS io::StatusOfErrno(int e) {
  switch (e) {
    case ENOENT: return STATUS_OBJECT_NAME_NOT_FOUND;
    case ENOTDIR: return STATUS_OBJECT_PATH_NOT_FOUND;
    case EEXIST: return STATUS_OBJECT_NAME_COLLISION;
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP: return STATUS_ACCESS_DENIED;
    case EISDIR: return STATUS_FILE_IS_A_DIRECTORY;
    case ENOTEMPTY: return STATUS_DIRECTORY_NOT_EMPTY;
    case ENOSPC: return STATUS_DISK_FULL;
    case ENAMETOOLONG: return STATUS_NAME_TOO_LONG;
    default: return STATUS_UNSUCCESSFUL;
  }
}

namespace {

NTSTATUS FromErrno(int e) { return io::StatusOfErrno(e); }

int OpenBeneath(int root, const std::string& path, int flags, mode_t mode = 0) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags) | O_CLOEXEC;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(syscall(SYS_openat2, root, path.c_str(), &how, sizeof how));
}

// The drive's root folder, opened once per call (the machine directory may move between boots).
class DriveRoot {
 public:
  DriveRoot() {
    const std::string& drive = Kernel::Current().config().systemDrive;
    if (!drive.empty()) fd_ = ::open(drive.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  ~DriveRoot() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// The parent folder of a drive path, beneath the root; refusals are logged.
int OpenParent(std::string_view service, const OBJECT_ATTRIBUTES* attributes, const DrivePath& path, NTSTATUS& status) {
  DriveRoot root;
  if (root.fd() < 0) {
    status = STATUS_OBJECT_PATH_NOT_FOUND;
    return -1;
  }
  const int fd = OpenBeneath(root.fd(), path.parent, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    status = errno == ENOENT ? STATUS_OBJECT_PATH_NOT_FOUND : FromErrno(errno);
    if (errno == EXDEV || errno == ELOOP) {
      const UNICODE_STRING& u = *attributes->ObjectName;
      Refused(service, Utf16ToUtf8({u.Buffer, u.Length / 2u}), status, "a host link leads outside the machine's drive");
    }
  }
  return fd;
}

std::uint64_t FileTime(const timespec& t) {
  return kEpochDifference100ns + static_cast<std::uint64_t>(t.tv_sec) * 10000000ull +
         static_cast<std::uint64_t>(t.tv_nsec) / 100;
}

struct DriveFileRef {
  FILE_OBJECT* file = nullptr;
  io::FileTail* tail = nullptr;
  ~DriveFileRef() {
    if (file) ob::DereferenceObject(file);
  }
};

NTSTATUS ReferenceDriveFile(HANDLE handle, DriveFileRef& out) {
  PVOID object = nullptr;
  const NTSTATUS status = ObReferenceObjectByHandle(handle, 0, g_IoFileObjectType, KernelMode, &object, nullptr);
  if (!NT_SUCCESS(status)) return status;
  out.file = static_cast<FILE_OBJECT*>(object);
  out.tail = io::TailOf(out.file);
  if (out.tail->hostFd < 0) return STATUS_INVALID_DEVICE_REQUEST;  // a device's file: not through these
  return STATUS_SUCCESS;
}

NTSTATUS Finish(IO_STATUS_BLOCK* iosb, NTSTATUS status, ULONG_PTR information = 0) {
  if (iosb) {
    iosb->Status = status;
    iosb->Information = information;
  }
  return status;
}

// An opened host file as a file object and handle (parent: its directory, for delete-on-close; -1
// for a device).
struct OpenedFile {
  int fd;
  int parent;
  bool directory;
  bool deleteOnClose;
  std::string leaf;
};

NTSTATUS InsertFile(const OpenedFile& opened, HANDLE* handle, ACCESS_MASK access, const OBJECT_ATTRIBUTES* attributes,
                    IO_STATUS_BLOCK* iosb, ULONG_PTR information) {
  FILE_OBJECT* file = io::NewFileObject({attributes->ObjectName->Buffer, attributes->ObjectName->Length / 2u});
  if (!file) {
    ::close(opened.fd);
    if (opened.parent >= 0) ::close(opened.parent);
    return Finish(iosb, STATUS_INSUFFICIENT_RESOURCES);
  }
  io::FileTail* tail = io::TailOf(file);
  tail->hostFd = opened.fd;
  tail->parentFd = opened.parent;
  tail->directory = opened.directory;
  tail->deleteOnClose = opened.deleteOnClose;
  std::strncpy(tail->name, opened.leaf.c_str(), sizeof tail->name - 1);
  file->ReadAccess = file->WriteAccess = TRUE;
  *handle = ob::InsertHandle(file, access ? access : FILE_ALL_ACCESS, (attributes->Attributes & OBJ_KERNEL_HANDLE) != 0,
                             attributes->Attributes);
  ob::DereferenceObject(file);
  return Finish(iosb, STATUS_SUCCESS, information);
}

}  // namespace

namespace io {

NTSTATUS InsertHostFile(int fd, bool directory, std::u16string_view ntName, ACCESS_MASK access, HANDLE* handle) {
  UNICODE_STRING name{static_cast<USHORT>(ntName.size() * 2), static_cast<USHORT>(ntName.size() * 2),
                      const_cast<char16_t*>(ntName.data())};
  OBJECT_ATTRIBUTES attributes{sizeof(OBJECT_ATTRIBUTES), nullptr, &name, 0, nullptr, nullptr};
  return InsertFile(OpenedFile{fd, -1, directory, false, ""}, handle, access, &attributes, nullptr, FILE_OPENED);
}

void CloseDriveFile(FILE_OBJECT* file) {
  FileTail* tail = TailOf(file);
  if (tail->deleteOnClose && tail->parentFd >= 0) {
    (void)::unlinkat(tail->parentFd, tail->name, tail->directory ? AT_REMOVEDIR : 0);
  }
  if (tail->hostFd >= 0) ::close(tail->hostFd);
  if (tail->parentFd >= 0) ::close(tail->parentFd);
  tail->hostFd = tail->parentFd = -1;
  DeleteDirectoryScan(tail->scan);
  tail->scan = nullptr;
  DeletePipeInstance(tail->pipe);
  tail->pipe = nullptr;
  if (tail->completionPort) ob::DereferenceObject(tail->completionPort);
  tail->completionPort = nullptr;
}

}  // namespace io

NTSTATUS NTAPI ZwCreateFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                            IO_STATUS_BLOCK* IoStatusBlock, LARGE_INTEGER*, ULONG, ULONG, ULONG CreateDisposition,
                            ULONG CreateOptions, PVOID, ULONG) {
  if (!FileHandle) return STATUS_INVALID_PARAMETER;
  *FileHandle = nullptr;
  if (CreateDisposition > FILE_OVERWRITE_IF) return Finish(IoStatusBlock, STATUS_INVALID_PARAMETER);
  auto path = Resolve("ZwCreateFile", ObjectAttributes);
  if (!path) return Finish(IoStatusBlock, path.error());
  NTSTATUS status = STATUS_SUCCESS;
  int parent = -1;
  int fd = -1;
  ULONG_PTR information = FILE_OPENED;
  if (path->device == DosDevice::kOther) {
    Refused("ZwCreateFile", path->leaf, STATUS_OBJECT_NAME_NOT_FOUND,
            "a device name on Windows, not a file, and the machine has no such device");
    return Finish(IoStatusBlock, STATUS_OBJECT_NAME_NOT_FOUND);
  }
  if (path->device == DosDevice::kNull) {
    // \Device\Null: writes vanish, reads find the end. The host's own null device is that.
    fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return Finish(IoStatusBlock, FromErrno(errno));
    return InsertFile(OpenedFile{fd, -1, false, false, path->leaf}, FileHandle, DesiredAccess, ObjectAttributes,
                      IoStatusBlock, information);
  }
  parent = OpenParent("ZwCreateFile", ObjectAttributes, *path, status);
  if (parent < 0) return Finish(IoStatusBlock, status);
  const std::string leaf = path->leaf.empty() ? "." : path->leaf;
  const bool wantDirectory = (CreateOptions & FILE_DIRECTORY_FILE) != 0;

  struct stat st {};
  const bool exists = ::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && CreateDisposition == FILE_CREATE) status = STATUS_OBJECT_NAME_COLLISION;
  if (!exists && (CreateDisposition == FILE_OPEN || CreateDisposition == FILE_OVERWRITE)) {
    status = STATUS_OBJECT_NAME_NOT_FOUND;
  }
  if (exists && S_ISDIR(st.st_mode) && (CreateOptions & FILE_NON_DIRECTORY_FILE)) status = STATUS_FILE_IS_A_DIRECTORY;
  if (exists && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) && wantDirectory) status = STATUS_NOT_A_DIRECTORY;
  if (!NT_SUCCESS(status)) {
    ::close(parent);
    return Finish(IoStatusBlock, status);
  }
  if (!exists && wantDirectory) {
    if (::mkdirat(parent, leaf.c_str(), 0755) != 0) {
      status = FromErrno(errno);
      ::close(parent);
      return Finish(IoStatusBlock, status);
    }
    information = FILE_CREATED;
  }
  int flags = wantDirectory || (exists && S_ISDIR(st.st_mode)) ? O_RDONLY | O_DIRECTORY : O_RDWR;
  if (!wantDirectory && !(exists && S_ISDIR(st.st_mode))) {
    if (!exists) {
      flags |= O_CREAT | O_EXCL;
      information = FILE_CREATED;
    } else if (CreateDisposition == FILE_SUPERSEDE || CreateDisposition == FILE_OVERWRITE ||
               CreateDisposition == FILE_OVERWRITE_IF) {
      flags |= O_TRUNC;
      information = CreateDisposition == FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
    }
  }
  // Beneath the parent, so a symlink as the last component cannot lead out either.
  fd = OpenBeneath(parent, leaf, flags, 0644);
  if (fd < 0) {
    status = FromErrno(errno);
    if (errno == EXDEV || errno == ELOOP) {
      Refused("ZwCreateFile", Utf16ToUtf8({ObjectAttributes->ObjectName->Buffer, ObjectAttributes->ObjectName->Length / 2u}),
              status, "a host link leads outside the machine's drive");
    }
    ::close(parent);
    return Finish(IoStatusBlock, status);
  }

  return InsertFile(OpenedFile{fd, parent, (flags & O_DIRECTORY) != 0, (CreateOptions & FILE_DELETE_ON_CLOSE) != 0, leaf},
                    FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, information);
}

NTSTATUS NTAPI ZwOpenFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                          IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG OpenOptions) {
  return ZwCreateFile(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, nullptr, 0, ShareAccess, FILE_OPEN,
                      OpenOptions, nullptr, 0);
}

NTSTATUS NTAPI ZwReadFile(HANDLE FileHandle, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer,
                          ULONG Length, LARGE_INTEGER* ByteOffset, ULONG*) {
  DriveFileRef ref;
  if (const NTSTATUS s = ReferenceDriveFile(FileHandle, ref); !NT_SUCCESS(s)) return Finish(IoStatusBlock, s);
  if (ref.tail->directory) return Finish(IoStatusBlock, STATUS_INVALID_DEVICE_REQUEST);
  const bool usePointer = !ByteOffset || ByteOffset->u.HighPart == FILE_USE_FILE_POINTER_POSITION;
  const LONGLONG offset = usePointer ? ref.file->CurrentByteOffset.QuadPart : ByteOffset->QuadPart;
  if (offset < 0) return Finish(IoStatusBlock, STATUS_INVALID_PARAMETER);
  const ssize_t n = ::pread(ref.tail->hostFd, Buffer, Length, offset);
  if (n < 0) return Finish(IoStatusBlock, errno == EFAULT ? STATUS_ACCESS_VIOLATION : FromErrno(errno));
  ref.file->CurrentByteOffset.QuadPart = offset + n;
  if (n == 0 && Length > 0) return Finish(IoStatusBlock, STATUS_END_OF_FILE);
  return Finish(IoStatusBlock, STATUS_SUCCESS, static_cast<ULONG_PTR>(n));
}

NTSTATUS NTAPI ZwWriteFile(HANDLE FileHandle, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer,
                           ULONG Length, LARGE_INTEGER* ByteOffset, ULONG*) {
  DriveFileRef ref;
  if (const NTSTATUS s = ReferenceDriveFile(FileHandle, ref); !NT_SUCCESS(s)) return Finish(IoStatusBlock, s);
  if (ref.tail->directory) return Finish(IoStatusBlock, STATUS_INVALID_DEVICE_REQUEST);
  const bool usePointer = !ByteOffset || ByteOffset->u.HighPart == FILE_USE_FILE_POINTER_POSITION;
  LONGLONG offset = usePointer ? ref.file->CurrentByteOffset.QuadPart : ByteOffset->QuadPart;
  if (!usePointer && ByteOffset->QuadPart == FILE_WRITE_TO_END_OF_FILE) {
    struct stat st {};
    (void)::fstat(ref.tail->hostFd, &st);
    offset = st.st_size;
  }
  if (offset < 0) return Finish(IoStatusBlock, STATUS_INVALID_PARAMETER);
  const ssize_t n = ::pwrite(ref.tail->hostFd, Buffer, Length, offset);
  if (n < 0) return Finish(IoStatusBlock, errno == EFAULT ? STATUS_ACCESS_VIOLATION : FromErrno(errno));
  ref.file->CurrentByteOffset.QuadPart = offset + n;
  return Finish(IoStatusBlock, STATUS_SUCCESS, static_cast<ULONG_PTR>(n));
}

NTSTATUS NTAPI ZwFlushBuffersFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock) {
  DriveFileRef ref;
  if (const NTSTATUS s = ReferenceDriveFile(FileHandle, ref); !NT_SUCCESS(s)) return Finish(IoStatusBlock, s);
  return Finish(IoStatusBlock, ::fsync(ref.tail->hostFd) == 0 ? STATUS_SUCCESS : FromErrno(errno));
}

NTSTATUS NTAPI ZwQueryInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                      ULONG Length, int FileInformationClass) {
  DriveFileRef ref;
  if (const NTSTATUS s = ReferenceDriveFile(FileHandle, ref); !NT_SUCCESS(s)) return Finish(IoStatusBlock, s);
  struct stat st {};
  if (::fstat(ref.tail->hostFd, &st) != 0) return Finish(IoStatusBlock, FromErrno(errno));
  const bool directory = S_ISDIR(st.st_mode);
  const ULONG attributes = directory ? FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_NORMAL;
  const LONGLONG size = directory ? 0 : st.st_size;
  const LONGLONG allocation = directory ? 0 : (st.st_blocks * 512);
  auto put = [&](const auto& value) {
    if (Length < sizeof value) return Finish(IoStatusBlock, STATUS_INFO_LENGTH_MISMATCH);
    std::memcpy(FileInformation, &value, sizeof value);
    return Finish(IoStatusBlock, STATUS_SUCCESS, sizeof value);
  };
  switch (FileInformationClass) {
    case FileBasicInformation: {
      struct {
        LONGLONG CreationTime, LastAccessTime, LastWriteTime, ChangeTime;
        ULONG FileAttributes;
        ULONG pad;
      } info{static_cast<LONGLONG>(FileTime(st.st_mtim)), static_cast<LONGLONG>(FileTime(st.st_atim)),
             static_cast<LONGLONG>(FileTime(st.st_mtim)), static_cast<LONGLONG>(FileTime(st.st_ctim)), attributes, 0};
      static_assert(sizeof info == 0x28);
      return put(info);
    }
    case FileStandardInformation: {
      struct {
        LONGLONG AllocationSize, EndOfFile;
        ULONG NumberOfLinks;
        BOOLEAN DeletePending, Directory;
        USHORT pad;
      } info{allocation, size, static_cast<ULONG>(st.st_nlink), ref.tail->deleteOnClose ? TRUE : FALSE,
             directory ? TRUE : FALSE, 0};
      static_assert(sizeof info == 0x18);
      return put(info);
    }
    case FilePositionInformation:
      return put(ref.file->CurrentByteOffset.QuadPart);
    case FileNetworkOpenInformation: {
      struct {
        LONGLONG CreationTime, LastAccessTime, LastWriteTime, ChangeTime, AllocationSize, EndOfFile;
        ULONG FileAttributes;
        ULONG pad;
      } info{static_cast<LONGLONG>(FileTime(st.st_mtim)), static_cast<LONGLONG>(FileTime(st.st_atim)),
             static_cast<LONGLONG>(FileTime(st.st_mtim)), static_cast<LONGLONG>(FileTime(st.st_ctim)), allocation, size,
             attributes, 0};
      static_assert(sizeof info == 0x38);
      return put(info);
    }
    default:
      return Finish(IoStatusBlock, STATUS_INVALID_INFO_CLASS);
  }
}

NTSTATUS NTAPI ZwSetInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                    ULONG Length, int FileInformationClass) {
  DriveFileRef ref;
  if (const NTSTATUS s = ReferenceDriveFile(FileHandle, ref); !NT_SUCCESS(s)) return Finish(IoStatusBlock, s);
  switch (FileInformationClass) {
    case FilePositionInformation: {
      LONGLONG position = 0;
      if (Length < sizeof position) return Finish(IoStatusBlock, STATUS_INFO_LENGTH_MISMATCH);
      std::memcpy(&position, FileInformation, sizeof position);
      if (position < 0) return Finish(IoStatusBlock, STATUS_INVALID_PARAMETER);
      ref.file->CurrentByteOffset.QuadPart = position;
      return Finish(IoStatusBlock, STATUS_SUCCESS);
    }
    case FileEndOfFileInformation: {
      LONGLONG end = 0;
      if (Length < sizeof end) return Finish(IoStatusBlock, STATUS_INFO_LENGTH_MISMATCH);
      std::memcpy(&end, FileInformation, sizeof end);
      if (end < 0 || ref.tail->directory) return Finish(IoStatusBlock, STATUS_INVALID_PARAMETER);
      return Finish(IoStatusBlock, ::ftruncate(ref.tail->hostFd, end) == 0 ? STATUS_SUCCESS : FromErrno(errno));
    }
    case FileDispositionInformation: {
      if (Length < 1) return Finish(IoStatusBlock, STATUS_INFO_LENGTH_MISMATCH);
      ref.tail->deleteOnClose = *static_cast<const BOOLEAN*>(FileInformation) != 0;
      return Finish(IoStatusBlock, STATUS_SUCCESS);
    }
    case FileBasicInformation:
      // Times and attributes: accepted, not kept (the host file's own times stand).
      if (Length < 0x28) return Finish(IoStatusBlock, STATUS_INFO_LENGTH_MISMATCH);
      return Finish(IoStatusBlock, STATUS_SUCCESS);
    default:
      return Finish(IoStatusBlock, STATUS_INVALID_INFO_CLASS);
  }
}

NTSTATUS NTAPI ZwDeleteFile(OBJECT_ATTRIBUTES* ObjectAttributes) {
  auto path = Resolve("ZwDeleteFile", ObjectAttributes);
  if (!path) return path.error();
  if (path->leaf.empty()) return STATUS_CANNOT_DELETE;
  if (path->device != DosDevice::kNone) {
    Refused("ZwDeleteFile", path->leaf, STATUS_ACCESS_DENIED, "a device name on Windows, not a file");
    return STATUS_ACCESS_DENIED;
  }
  NTSTATUS status = STATUS_SUCCESS;
  const int parent = OpenParent("ZwDeleteFile", ObjectAttributes, *path, status);
  if (parent < 0) return status;
  struct stat st {};
  if (::fstatat(parent, path->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    status = FromErrno(errno);
  } else if (::unlinkat(parent, path->leaf.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
    status = FromErrno(errno);
  }
  ::close(parent);
  return status;
}

std::string Win32PathOfHost(const std::filesystem::path& host, std::string_view systemDrive) {
  const std::string path = host.string();
  std::string out;
  if (!systemDrive.empty() && path.starts_with(std::string(systemDrive) + "/")) {
    out = "C:" + path.substr(systemDrive.size());
  } else {
    out = "Z:" + path;
  }
  for (auto& c : out) {
    if (c == '/') c = '\\';
  }
  if (out.size() == 2) out += '\\';
  return out;
}

}  // namespace ntbox::nt
