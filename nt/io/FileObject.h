// What follows FILE_OBJECT in its object body: ntbox's own bookkeeping, never seen by drivers.
#pragma once
#include <cstdint>
#include <string_view>

#include "nt/io/IoTypes.h"

namespace ntbox::nt::io {

struct FileTail {
  bool created = false;  // IRP_MJ_CREATE succeeded: cleanup and close are due
  // A file on the machine's drive (ZwCreateFile): the host descriptor, and what closing does.
  int hostFd = -1;
  int parentFd = -1;         // the directory it lives in, for delete on close
  bool directory = false;
  bool deleteOnClose = false;
  char name[256] = {};       // its last path component, for delete on close
  // A directory being listed (NtQueryDirectoryFile): its entries as first read, and where the
  // listing is; freed with the file.
  struct DirectoryScan* scan = nullptr;
  // The completion port the file is associated with (referenced) and its key.
  void* completionPort = nullptr;
  std::uint64_t completionKey = 0;
  // A pipe's server end (io/NamedPipes.cpp): its instance, freed with the file.
  struct PipeInstance* pipe = nullptr;
};

inline FileTail* TailOf(FILE_OBJECT* file) {
  return reinterpret_cast<FileTail*>(reinterpret_cast<std::uint8_t*>(file) + sizeof(FILE_OBJECT));
}

// A new file object (one reference) named name, its tail constructed, synchronous, with its
// events and IRP list initialized; nullptr when out of memory.
FILE_OBJECT* NewFileObject(std::u16string_view name);

// Frees a pipe instance (NamedPipes.cpp): its waiting client end closes.
void DeletePipeInstance(PipeInstance* instance);
// Frees a listing's state (ProgramFiles.cpp).
void DeleteDirectoryScan(DirectoryScan* scan);
// Closes the host side of a drive file (called when the file object goes).
void CloseDriveFile(FILE_OBJECT* file);
// The status of a failed host file operation (ENOENT: STATUS_OBJECT_NAME_NOT_FOUND ...).
NTSTATUS StatusOfErrno(int error);

// A host descriptor as a file object named ntName and a handle in the current process (fd is the
// object's from now on, even on failure).
NTSTATUS InsertHostFile(int fd, bool directory, std::u16string_view ntName, ACCESS_MASK access, HANDLE* handle);

}  // namespace ntbox::nt::io
