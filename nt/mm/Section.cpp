// Sections: NtCreateSection of an image (SEC_IMAGE: the file parsed and validated by ntbox's PE
// loader) or of a file's data, NtQuerySection, and views mapped into the caller's process. An image
// view is mapped as Windows' memory manager maps it, relocated when it cannot sit at its preferred
// base (STATUS_IMAGE_NOT_AT_BASE) with the mapped header saying where it is; its imports are the
// process's ntdll's business. A data view is a private copy of the file's bytes (shared sections
// are for later).
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <memory>
#include <vector>

#include "nt/Status.h"
#include "nt/ke/Thread.h"
#include "nt/io/FileObject.h"
#include "nt/io/IoExports.h"
#include "nt/mm/MmExports.h"
#include "nt/mm/Probe.h"
#include "nt/mm/UserSpace.h"
#include "nt/ob/ObExports.h"
#include "nt/ob/ObTypes.h"
#include "nt/ob/Object.h"
#include "nt/ps/Notify.h"
#include "nt/ps/Process.h"
#include "nt/ps/UserThreads.h"
#include "pe/PeImage.h"
#include "pe/PeLoader.h"

namespace ntbox::nt {
namespace {

constexpr ULONG SEC_IMAGE = 0x1000000;
constexpr NTSTATUS STATUS_IMAGE_NOT_AT_BASE = 0x40000003;
constexpr NTSTATUS STATUS_SECTION_TOO_BIG = static_cast<NTSTATUS>(0xC0000040);
constexpr NTSTATUS STATUS_INVALID_FILE_FOR_SECTION = static_cast<NTSTATUS>(0xC0000020);
constexpr std::uint64_t kMaxFileSection = 512ull << 20;

struct SectionData {
  std::shared_ptr<const pe::PeImage> image;  // SEC_IMAGE
  std::u16string fileName;                    // the file's NT name (a SEC_IMAGE's, for load-image notify routines)
  std::vector<std::uint8_t> data;            // a file's bytes otherwise
  // Backed by the paging file (shared memory, no file): one host memory file every view maps, in
  // programs and in system space alike.
  int memory = -1;
  std::uint64_t size = 0;
  ULONG attributes = 0;
  ULONG protect = 0;
  ~SectionData() {
    if (memory >= 0) ::close(memory);
  }
};

// Views of memory sections in system space (drivers': MmMapViewInSystemSpace, or ZwMapViewOfSection
// from the System process), by base.
std::mutex g_systemViewsMutex;
std::map<std::uint64_t, std::uint64_t> g_systemViews;

// Maps [offset, offset+length) of a memory section at base (0: anywhere the host likes, which is
// system space) with the PAGE_* protection; 0 on failure.
std::uint64_t MapMemory(const SectionData& s, std::uint64_t base, std::uint64_t offset, std::uint64_t length,
                        ULONG protect) {
  const int prot = mm::HostProtection(protect);
  void* at = ::mmap(reinterpret_cast<void*>(base), length, prot < 0 ? PROT_READ : prot,
                    MAP_SHARED | (base ? MAP_FIXED : 0), s.memory, static_cast<off_t>(offset));
  return at == MAP_FAILED ? 0 : reinterpret_cast<std::uint64_t>(at);
}

ob::ObjectType& Sections() { return ob::OwningHostContext<SectionData>(ob::SectionType()); }

// The whole file behind a handle, from its start; bounded.
// Reads size bytes from the start of fd; false on an error or a file shorter than that.
bool ReadAll(int fd, std::uint8_t* to, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, to + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Parsed images by file identity (device, inode, size, modification time): every program maps the
// same system DLLs, and reading and validating them (debug sections included) is most of a start.
class ImageCache {
 public:
  std::shared_ptr<const pe::PeImage> Find(const struct stat& st) {
    std::lock_guard lock(mutex_);
    const auto it = images_.find(KeyOf(st));
    return it == images_.end() ? nullptr : it->second;
  }
  void Add(const struct stat& st, std::shared_ptr<const pe::PeImage> image) {
    std::lock_guard lock(mutex_);
    if (images_.size() >= kMaxImages) images_.clear();
    images_[KeyOf(st)] = std::move(image);
  }

 private:
  using Key = std::tuple<dev_t, ino_t, off_t, std::int64_t, long>;
  static Key KeyOf(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size, static_cast<std::int64_t>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec};
  }
  static constexpr std::size_t kMaxImages = 256;
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<const pe::PeImage>> images_;
};

ImageCache& Images() {
  static ImageCache cache;
  return cache;
}

NTSTATUS ReferenceSection(HANDLE handle, void*& body, SectionData*& data) {
  const NTSTATUS status = ObReferenceObjectByHandle(handle, 0, &Sections(), ExGetPreviousMode(), &body, nullptr);
  if (!NT_SUCCESS(status)) return status;
  data = static_cast<SectionData*>(ob::HeaderOf(body)->hostContext);
  return STATUS_SUCCESS;
}

}  // namespace

namespace mm {

std::array<std::uint8_t, 0x40> ImageInformation(const pe::PeImage& img, std::uint64_t base) {
  std::array<std::uint8_t, 0x40> info{};
  auto put = [&info](std::size_t at, auto value) { std::memcpy(info.data() + at, &value, sizeof value); };
  const auto& o = img.optionalHeader();
  put(0x00, base + img.entryPointRva());
  put(0x10, static_cast<std::uint64_t>(o.SizeOfStackReserve));
  put(0x18, static_cast<std::uint64_t>(o.SizeOfStackCommit));
  put(0x20, static_cast<ULONG>(o.Subsystem));
  put(0x24, static_cast<USHORT>(o.MinorSubsystemVersion));
  put(0x26, static_cast<USHORT>(o.MajorSubsystemVersion));
  put(0x28, static_cast<USHORT>(o.MajorOperatingSystemVersion));
  put(0x2A, static_cast<USHORT>(o.MinorOperatingSystemVersion));
  put(0x2C, static_cast<USHORT>(img.fileHeader().Characteristics));
  put(0x2E, static_cast<USHORT>(o.DllCharacteristics));
  put(0x30, static_cast<USHORT>(img.machine()));
  put(0x32, static_cast<std::uint8_t>(o.SizeOfCode != 0));
  put(0x34, static_cast<ULONG>(o.LoaderFlags));
  put(0x38, static_cast<ULONG>(img.file().size()));
  put(0x3C, static_cast<ULONG>(o.CheckSum));
  return info;
}

NTSTATUS MapHostFileView(const std::string& path, std::uint64_t& base, std::uint64_t& size) {
  mm::UserSpace* space = ps::CurrentProcess().space();
  if (!space) return STATUS_INVALID_PARAMETER;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return STATUS_OBJECT_NAME_NOT_FOUND;
  struct stat st {};
  NTSTATUS status = STATUS_SUCCESS;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
      static_cast<std::uint64_t>(st.st_size) > kMaxFileSection) {
    status = STATUS_INVALID_FILE_FOR_SECTION;
  } else if (NT_SUCCESS(status = space->AllocateView(base, static_cast<std::uint64_t>(st.st_size), page::kReadWrite))) {
    size = static_cast<std::uint64_t>(st.st_size);
    const bool read = ReadAll(fd, reinterpret_cast<std::uint8_t*>(base), size);
    std::uint64_t at = base, length = size;
    ULONG old = 0;
    (void)space->ProtectVirtual(at, length, page::kReadOnly, old);
    if (!read) {
      space->ReleaseView(base);
      status = STATUS_UNSUCCESSFUL;
    }
  }
  ::close(fd);
  return status;
}

}  // namespace mm

NTSTATUS NTAPI NtCreateSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                               LARGE_INTEGER* MaximumSize, ULONG SectionPageProtection, ULONG AllocationAttributes,
                               HANDLE FileHandle) {
  if (!mm::WriteCaller(SectionHandle, HANDLE{})) return STATUS_ACCESS_VIOLATION;
  auto data = std::make_unique<SectionData>();
  data->attributes = AllocationAttributes;
  data->protect = SectionPageProtection;
  const ACCESS_MASK access = DesiredAccess ? DesiredAccess : 0xF001F /* SECTION_ALL_ACCESS */;
  if (!FileHandle) {
    // Shared memory: zeroed pages of the size asked for, in a host memory file.
    if (!MaximumSize) return STATUS_INVALID_PARAMETER_4;
    const auto maximum = mm::ReadCaller(MaximumSize);
    if (!maximum) return STATUS_ACCESS_VIOLATION;
    if (maximum->QuadPart <= 0) return STATUS_INVALID_PARAMETER_4;
    if (AllocationAttributes & SEC_IMAGE) return STATUS_INVALID_FILE_FOR_SECTION;
    if (static_cast<std::uint64_t>(maximum->QuadPart) > kMaxFileSection) return STATUS_SECTION_TOO_BIG;
    data->size = static_cast<std::uint64_t>(maximum->QuadPart);
    data->memory = ::memfd_create("ntbox-section", MFD_CLOEXEC);
    if (data->memory < 0 || ::ftruncate(data->memory, static_cast<off_t>((data->size + 0xFFF) & ~0xFFFull)) != 0) {
      return STATUS_INSUFFICIENT_RESOURCES;
    }
    void* body = ob::CreateObject(Sections(), 0x30, data.get());
    if (!body) return STATUS_INSUFFICIENT_RESOURCES;
    (void)data.release();
    return ob::ReturnNamedHandle(body, ObjectAttributes, access, SectionHandle);
  }
  // The file's host descriptor: its identity finds a parsed image again; else its bytes are read.
  PVOID file = nullptr;
  if (const NTSTATUS s = ObReferenceObjectByHandle(FileHandle, 0, g_IoFileObjectType, ExGetPreviousMode(), &file,
                                                   nullptr);
      !NT_SUCCESS(s)) {
    return s;
  }
  const int fd = io::TailOf(static_cast<FILE_OBJECT*>(file))->hostFd;
  {
    const UNICODE_STRING& n = static_cast<FILE_OBJECT*>(file)->FileName;
    if (n.Buffer) data->fileName.assign(n.Buffer, n.Length / 2);
  }
  struct stat st {};
  NTSTATUS status = STATUS_SUCCESS;
  std::vector<std::uint8_t> bytes;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    status = STATUS_INVALID_FILE_FOR_SECTION;
  } else if (static_cast<std::uint64_t>(st.st_size) > kMaxFileSection) {
    status = STATUS_SECTION_TOO_BIG;
  } else if (!((AllocationAttributes & SEC_IMAGE) && (data->image = Images().Find(st)))) {
    bytes.resize(static_cast<std::size_t>(st.st_size));
    if (!ReadAll(fd, bytes.data(), bytes.size())) status = STATUS_UNSUCCESSFUL;
  }
  ob::DereferenceObject(file);
  if (!NT_SUCCESS(status)) return status;
  if (!data->image && (AllocationAttributes & SEC_IMAGE)) {
    auto image = pe::PeImage::Parse(std::move(bytes));
    if (!image) return STATUS_INVALID_IMAGE_FORMAT;
    data->image = std::make_shared<const pe::PeImage>(std::move(*image));
    Images().Add(st, data->image);
  } else if (!data->image) {
    data->data = std::move(bytes);
  }
  void* body = ob::CreateObject(Sections(), 0x30, data.get());
  if (!body) return STATUS_INSUFFICIENT_RESOURCES;
  (void)data.release();
  return ob::ReturnNamedHandle(body, ObjectAttributes, access, SectionHandle);
}

NTSTATUS NTAPI NtOpenSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  return ob::OpenNamed(ObjectAttributes, Sections(), DesiredAccess, SectionHandle);
}

NTSTATUS NTAPI NtQuerySection(HANDLE SectionHandle, ULONG SectionInformationClass, PVOID SectionInformation,
                              SIZE_T Length, SIZE_T* ResultLength) {
  constexpr ULONG SectionBasicInformation = 0, SectionImageInformation = 1;
  void* body = nullptr;
  SectionData* s = nullptr;
  if (const NTSTATUS status = ReferenceSection(SectionHandle, body, s); !NT_SUCCESS(status)) return status;
  std::uint8_t info[0x40] = {};
  std::size_t size = 0;
  NTSTATUS status = STATUS_SUCCESS;
  auto put = [&info](std::size_t at, auto value) { std::memcpy(info + at, &value, sizeof value); };
  if (SectionInformationClass == SectionBasicInformation) {
    size = 0x18;
    put(0x08, static_cast<ULONG>(s->attributes));
    put(0x10, static_cast<std::uint64_t>(s->image ? s->image->sizeOfImage() : s->memory >= 0 ? s->size : s->data.size()));
  } else if (SectionInformationClass == SectionImageInformation && s->image) {
    size = 0x40;
    const auto image = mm::ImageInformation(*s->image, s->image->preferredBase());
    std::memcpy(info, image.data(), size);
  } else {
    status = SectionInformationClass == SectionImageInformation ? STATUS_SECTION_NOT_IMAGE : STATUS_INVALID_INFO_CLASS;
  }
  ob::DereferenceObject(body);
  if (!NT_SUCCESS(status)) return status;
  if (Length < size) return STATUS_INFO_LENGTH_MISMATCH;
  if (!mm::WriteCaller(SectionInformation, info, size)) return STATUS_ACCESS_VIOLATION;
  if (ResultLength && !mm::WriteCaller(ResultLength, static_cast<SIZE_T>(size))) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI NtMapViewOfSection(HANDLE SectionHandle, HANDLE ProcessHandle, PVOID* BaseAddress, ULONG_PTR ZeroBits,
                                  SIZE_T CommitSize, LARGE_INTEGER* SectionOffset, SIZE_T* ViewSize,
                                  ULONG InheritDisposition, ULONG AllocationType, ULONG Win32Protect) {
  (void)ZeroBits, (void)CommitSize, (void)InheritDisposition, (void)AllocationType;
  ps::Process* process = ps::ProcessOfHandle(ProcessHandle, ps::PROCESS_VM_OPERATION);
  if (!process) return STATUS_INVALID_HANDLE;
  if (process != &ps::CurrentProcess()) return STATUS_NOT_IMPLEMENTED;  // views in another process: not yet
  // The System process has no user space: its views (a driver's) are in system space.
  mm::UserSpace* space = process->space();
  const auto requested = mm::ReadCaller(BaseAddress);
  const auto size = mm::ReadCaller(ViewSize);
  if (!requested || !size) return STATUS_ACCESS_VIOLATION;
  if (*requested) return STATUS_NOT_IMPLEMENTED;  // views at a chosen address: later
  std::int64_t offset = 0;
  if (SectionOffset) {
    const auto o = mm::ReadCaller(SectionOffset);
    if (!o) return STATUS_ACCESS_VIOLATION;
    offset = o->QuadPart;
  }
  void* body = nullptr;
  SectionData* s = nullptr;
  if (const NTSTATUS status = ReferenceSection(SectionHandle, body, s); !NT_SUCCESS(status)) return status;
  std::uint64_t base = 0, length = 0;
  NTSTATUS status = STATUS_SUCCESS;
  if (s->memory >= 0) {
    const ULONG protect = Win32Protect ? Win32Protect : mm::page::kReadWrite;
    if (offset < 0 || offset % 0x10000 || static_cast<std::uint64_t>(offset) >= s->size) {
      status = offset % 0x10000 ? STATUS_MAPPED_ALIGNMENT : STATUS_INVALID_VIEW_SIZE;
    } else if (length = *size ? *size : s->size - static_cast<std::uint64_t>(offset);
               length > s->size - static_cast<std::uint64_t>(offset)) {
      status = STATUS_INVALID_VIEW_SIZE;
    } else if (mm::HostProtection(protect) < 0) {
      status = STATUS_INVALID_PAGE_PROTECTION;
    } else if (!space) {
      base = MapMemory(*s, 0, static_cast<std::uint64_t>(offset), length, protect);
      if (!base) {
        status = STATUS_INSUFFICIENT_RESOURCES;
      } else {
        std::lock_guard lock(g_systemViewsMutex);
        g_systemViews[base] = length;
      }
    } else if (NT_SUCCESS(status = space->AllocateView(base, length, protect)) &&
               !MapMemory(*s, base, static_cast<std::uint64_t>(offset), (length + 0xFFF) & ~0xFFFull, protect)) {
      (void)space->ReleaseView(base);
      status = STATUS_INSUFFICIENT_RESOURCES;
    }
  } else if (!space) {
    status = STATUS_NOT_IMPLEMENTED;  // a file's data or an image in system space: not yet
  } else if (s->image) {
    pe::LoadOptions load;
    load.bindImports = false;
    load.regionStart = space->base() + 0x10000;
    load.regionEnd = space->imageRegionEnd();
    auto mapped = pe::LoadImage(*s->image, load);
    if (!mapped) {
      status = STATUS_INVALID_IMAGE_FORMAT;
    } else {
      base = (*mapped)->base();
      length = (*mapped)->size();
      space->RecordMapping(base, length, mm::mem::kImage, mm::page::kExecuteWriteCopy);
      if ((*mapped)->relocated()) status = STATUS_IMAGE_NOT_AT_BASE;
      ps::Process& process = ps::CurrentProcess();
      const pe::LoadedImage& image = **mapped;
      process.imageViews()[base] = std::move(*mapped);
      // Drivers' load-image notify routines hear of every image mapped into a process, as on Windows.
      ps::NotifyImageLoad(s->fileName, process.id(), base, length, false);
      if (process.threadHost) process.threadHost->ImageMapped(image);
    }
  } else {
    const std::uint64_t total = s->data.size();
    if (offset < 0 || static_cast<std::uint64_t>(offset) > total) {
      status = STATUS_INVALID_VIEW_SIZE;
    } else {
      length = *size ? *size : total - static_cast<std::uint64_t>(offset);
      if (length == 0 || length > total - static_cast<std::uint64_t>(offset)) {
        status = STATUS_INVALID_VIEW_SIZE;
      } else if (NT_SUCCESS(status = space->AllocateView(base, length, mm::page::kReadWrite))) {
        std::memcpy(reinterpret_cast<void*>(base), s->data.data() + offset, length);
        std::uint64_t at = base, protectLength = length;
        ULONG old = 0;
        const ULONG protect = Win32Protect ? Win32Protect : mm::page::kReadOnly;
        if (space->ProtectVirtual(at, protectLength, protect, old) != STATUS_SUCCESS) {
          (void)space->ProtectVirtual(at, protectLength, mm::page::kReadOnly, old);
        }
      }
    }
  }
  ob::DereferenceObject(body);
  if (!NT_SUCCESS(status)) return status;
  if (!mm::WriteCaller(BaseAddress, reinterpret_cast<PVOID>(base)) || !mm::WriteCaller(ViewSize, static_cast<SIZE_T>(length))) {
    return STATUS_ACCESS_VIOLATION;
  }
  return status;
}

NTSTATUS NTAPI NtUnmapViewOfSection(HANDLE ProcessHandle, PVOID BaseAddress) {
  ps::Process* process = ps::ProcessOfHandle(ProcessHandle, ps::PROCESS_VM_OPERATION);
  if (!process) return STATUS_INVALID_HANDLE;
  if (process != &ps::CurrentProcess()) return STATUS_NOT_IMPLEMENTED;  // views in another process: not yet
  mm::UserSpace* space = process->space();
  const auto base = reinterpret_cast<std::uint64_t>(BaseAddress);
  if (!space) return MmUnmapViewInSystemSpace(BaseAddress);
  auto& views = ps::CurrentProcess().imageViews();
  if (auto it = views.find(base); it != views.end()) {
    space->ForgetMapping(base);
    views.erase(it);
    return STATUS_SUCCESS;
  }
  return space->ReleaseView(base) ? STATUS_SUCCESS : STATUS_NOT_MAPPED_VIEW;
}

// Drivers: the same services in kernel mode, and views of a section object in system space.
NTSTATUS NTAPI ZwCreateSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                               LARGE_INTEGER* MaximumSize, ULONG SectionPageProtection, ULONG AllocationAttributes,
                               HANDLE FileHandle) {
  ke::KernelModeCall kernel;
  return NtCreateSection(SectionHandle, DesiredAccess, ObjectAttributes, MaximumSize, SectionPageProtection,
                         AllocationAttributes, FileHandle);
}

NTSTATUS NTAPI ZwOpenSection(HANDLE* SectionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes) {
  ke::KernelModeCall kernel;
  return NtOpenSection(SectionHandle, DesiredAccess, ObjectAttributes);
}

NTSTATUS NTAPI ZwMapViewOfSection(HANDLE SectionHandle, HANDLE ProcessHandle, PVOID* BaseAddress, ULONG_PTR ZeroBits,
                                  SIZE_T CommitSize, LARGE_INTEGER* SectionOffset, SIZE_T* ViewSize,
                                  ULONG InheritDisposition, ULONG AllocationType, ULONG Win32Protect) {
  ke::KernelModeCall kernel;
  return NtMapViewOfSection(SectionHandle, ProcessHandle, BaseAddress, ZeroBits, CommitSize, SectionOffset, ViewSize,
                            InheritDisposition, AllocationType, Win32Protect);
}

NTSTATUS NTAPI ZwUnmapViewOfSection(HANDLE ProcessHandle, PVOID BaseAddress) {
  ke::KernelModeCall kernel;
  return NtUnmapViewOfSection(ProcessHandle, BaseAddress);
}

NTSTATUS NTAPI MmMapViewInSystemSpace(PVOID Section, PVOID* MappedBase, SIZE_T* ViewSize) {
  ob::ObjectHeader* h = ob::HeaderOf(Section);
  if (!h || h->type != &Sections() || !MappedBase || !ViewSize) return STATUS_INVALID_PARAMETER;
  const auto& s = *static_cast<SectionData*>(h->hostContext);
  if (s.memory < 0) return STATUS_NOT_IMPLEMENTED;  // a file's data or an image: not yet
  const std::uint64_t length = *ViewSize ? *ViewSize : s.size;
  if (length > s.size) return STATUS_INVALID_VIEW_SIZE;
  const std::uint64_t base = MapMemory(s, 0, 0, length, mm::page::kReadWrite);
  if (!base) return STATUS_NO_MEMORY;
  {
    std::lock_guard lock(g_systemViewsMutex);
    g_systemViews[base] = length;
  }
  *MappedBase = reinterpret_cast<PVOID>(base);
  *ViewSize = length;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI MmUnmapViewInSystemSpace(PVOID MappedBase) {
  std::lock_guard lock(g_systemViewsMutex);
  auto it = g_systemViews.find(reinterpret_cast<std::uint64_t>(MappedBase));
  if (it == g_systemViews.end()) return STATUS_NOT_MAPPED_VIEW;
  ::munmap(MappedBase, it->second);
  g_systemViews.erase(it);
  return STATUS_SUCCESS;
}

}  // namespace ntbox::nt
