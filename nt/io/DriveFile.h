// Kernel file I/O on the machine's drive (see DriveFile.cpp).
#pragma once
#include <optional>
#include <filesystem>
#include <string>
#include <string_view>

#include "nt/Types.h"
#include "nt/io/IoTypes.h"

namespace ntbox::nt {

struct OBJECT_ATTRIBUTES;

NTSTATUS NTAPI ZwCreateFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                            IO_STATUS_BLOCK* IoStatusBlock, LARGE_INTEGER* AllocationSize, ULONG FileAttributes,
                            ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer,
                            ULONG EaLength);
NTSTATUS NTAPI ZwOpenFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                          IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG OpenOptions);
NTSTATUS NTAPI ZwReadFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                          IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset,
                          ULONG* Key);
NTSTATUS NTAPI ZwWriteFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                           IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset,
                           ULONG* Key);
NTSTATUS NTAPI ZwFlushBuffersFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock);
NTSTATUS NTAPI ZwQueryInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                      ULONG Length, int FileInformationClass);
NTSTATUS NTAPI ZwSetInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                    ULONG Length, int FileInformationClass);
NTSTATUS NTAPI ZwDeleteFile(OBJECT_ATTRIBUTES* ObjectAttributes);

// The services programs call (io/ProgramFiles.cpp): names captured from the caller and resolved on
// the machine's volumes; a KernelMode caller's are ZwCreateFile's.
NTSTATUS NTAPI NtCreateFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                            IO_STATUS_BLOCK* IoStatusBlock, LARGE_INTEGER* AllocationSize, ULONG FileAttributes,
                            ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer,
                            ULONG EaLength);
NTSTATUS NTAPI NtOpenFile(HANDLE* FileHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                          IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG OpenOptions);
// Synchronous device I/O (Event and ApcRoutine are not honoured yet): the IRP as the I/O manager
// builds it for the code's transfer method.
NTSTATUS NTAPI NtDeviceIoControlFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                                     IO_STATUS_BLOCK* IoStatusBlock, ULONG IoControlCode, PVOID InputBuffer,
                                     ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength);
// No file system control code is served yet: STATUS_INVALID_DEVICE_REQUEST for a valid handle.
NTSTATUS NTAPI NtFsControlFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                               IO_STATUS_BLOCK* IoStatusBlock, ULONG FsControlCode, PVOID InputBuffer,
                               ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength);
// Device, volume, size, full size and attribute information (a volume's: its host file system's).
NTSTATUS NTAPI NtQueryVolumeInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FsInformation,
                                            ULONG Length, ULONG FsInformationClass);
// Overlapped requests still with their driver: one (Ex, by its IO_STATUS_BLOCK/OVERLAPPED) or all.
NTSTATUS NTAPI NtCancelIoFileEx(HANDLE FileHandle, IO_STATUS_BLOCK* IoRequestToCancel, IO_STATUS_BLOCK* IoStatusBlock);
NTSTATUS NTAPI NtCancelIoFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock);
// Attributes and information of files on the machine's volumes (a device's: not yet, its driver
// would be asked); set: the position and the end of file only.
NTSTATUS NTAPI NtQueryAttributesFile(OBJECT_ATTRIBUTES* ObjectAttributes, PVOID FileInformation);
NTSTATUS NTAPI NtQueryFullAttributesFile(OBJECT_ATTRIBUTES* ObjectAttributes, PVOID FileInformation);
NTSTATUS NTAPI NtQueryInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                      ULONG Length, ULONG FileInformationClass);
NTSTATUS NTAPI NtSetInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation,
                                    ULONG Length, ULONG FileInformationClass);
// Pipes (io/NamedPipes.cpp): a pipe's server end; OpenPipeClient gives a client the other end.
NTSTATUS NTAPI NtCreateNamedPipeFile(HANDLE* PipeHandle, ACCESS_MASK DesiredAccess, OBJECT_ATTRIBUTES* ObjectAttributes,
                                     IO_STATUS_BLOCK* IoStatusBlock, ULONG ShareAccess, ULONG CreateDisposition,
                                     ULONG CreateOptions, ULONG NamedPipeType, ULONG ReadMode, ULONG CompletionMode,
                                     ULONG MaximumInstances, ULONG InboundQuota, ULONG OutboundQuota,
                                     LARGE_INTEGER* DefaultTimeout);
namespace io {
// The pipe an NT name means (\??\pipe\X, \Device\NamedPipe\X ...), upper-cased; nullopt for another name.
std::optional<std::u16string> PipeName(std::u16string_view ntName);
// A client's open of a pipe: the end an unconnected instance keeps for it.
NTSTATUS OpenPipeClient(const std::u16string& pipe, ACCESS_MASK access, HANDLE& handle);
// A pipe's file system controls (NtFsControlFile on a host file): ConnectNamedPipe (LISTEN),
// DisconnectNamedPipe, PeekNamedPipe; STATUS_INVALID_DEVICE_REQUEST for any other.
NTSTATUS PipeFsControl(FILE_OBJECT* file, HANDLE event, IO_STATUS_BLOCK* iosb, ULONG code, PVOID output,
                       ULONG outputLength);
// The host file a program's NT name (\??\C:\..., \??\Z:\...) means, found as NtOpenFile finds it
// (io/ProgramFiles.cpp): what NtCreateUserProcess runs.
NTSTATUS HostPathOfFile(std::u16string_view ntName, std::filesystem::path& hostPath);
}  // namespace io
// Completion ports (io/CompletionPort.cpp).
NTSTATUS NTAPI NtCreateIoCompletion(HANDLE* IoCompletionHandle, ACCESS_MASK DesiredAccess, PVOID ObjectAttributes,
                                    ULONG NumberOfConcurrentThreads);
NTSTATUS NTAPI NtSetIoCompletion(HANDLE IoCompletionHandle, ULONG_PTR KeyContext, ULONG_PTR ApcContext,
                                 NTSTATUS IoStatus, ULONG_PTR IoStatusInformation);
NTSTATUS NTAPI NtRemoveIoCompletion(HANDLE IoCompletionHandle, ULONG_PTR* KeyContext, ULONG_PTR* ApcContext,
                                    IO_STATUS_BLOCK* IoStatusBlock, LARGE_INTEGER* Timeout);
NTSTATUS NTAPI NtRemoveIoCompletionEx(HANDLE IoCompletionHandle, PVOID Information, ULONG Count, ULONG* Removed,
                                      LARGE_INTEGER* Timeout, BOOLEAN Alertable);
// A directory's entries, as FindFirstFile/FindNextFile list them (the mask of the first call).
NTSTATUS NTAPI NtQueryDirectoryFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                                    IO_STATUS_BLOCK* IoStatusBlock, PVOID FileInformation, ULONG Length,
                                    ULONG FileInformationClass, BOOLEAN ReturnSingleEntry, UNICODE_STRING* FileName,
                                    BOOLEAN RestartScan);
// Synchronous transfers; Event and ApcRoutine are not honoured yet.
NTSTATUS NTAPI NtReadFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                          IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset,
                          ULONG* Key);
NTSTATUS NTAPI NtWriteFile(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                           IO_STATUS_BLOCK* IoStatusBlock, PVOID Buffer, ULONG Length, LARGE_INTEGER* ByteOffset,
                           ULONG* Key);

// A host path as the machine names it: inside systemDrive (the C: folder, when given) C:\...,
// anywhere else Z:\... (Z: is the host's root).
std::string Win32PathOfHost(const std::filesystem::path& host, std::string_view systemDrive = {});

}  // namespace ntbox::nt
