/* Kernel file I/O on the machine's C: drive, step by step, each step one DbgPrint line the test
 * reads: create, write, read at offsets, query and set information, delete, and names that try
 * to leave the drive (all refused). The test puts C:\escape, a host symlink out of the drive. */
#include <ntddk.h>

/* In ntifs.h, which mingw-w64's DDK lacks. */
NTSYSAPI NTSTATUS NTAPI ZwDeleteFile(POBJECT_ATTRIBUTES ObjectAttributes);

static VOID Unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
}

static NTSTATUS Open(PCWSTR name, ACCESS_MASK access, ULONG disposition, ULONG options, PHANDLE handle)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    RtlInitUnicodeString(&u, name);
    InitializeObjectAttributes(&attributes, &u, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateFile(handle, access | SYNCHRONIZE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                        FILE_SHARE_READ, disposition, options | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
}

static void TryEscape(PCWSTR name)
{
    HANDLE h;
    NTSTATUS status = Open(name, GENERIC_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &h);
    DbgPrint("drive: escape %ws 0x%08X\n", name, status);
    if (NT_SUCCESS(status)) ZwClose(h);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registryPath)
{
    static const char kText[] = "hello drive\n";
    HANDLE dir, h;
    IO_STATUS_BLOCK iosb;
    NTSTATUS status;
    char buffer[16];
    LARGE_INTEGER offset;
    FILE_STANDARD_INFORMATION standard;
    FILE_POSITION_INFORMATION position;
    FILE_END_OF_FILE_INFORMATION eof;
    FILE_BASIC_INFORMATION basic;
    FILE_DISPOSITION_INFORMATION disposition;
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES attributes;
    UNREFERENCED_PARAMETER(registryPath);
    driver->DriverUnload = Unload;

    status = Open(L"\\??\\C:\\drive_test", FILE_LIST_DIRECTORY, FILE_OPEN_IF, FILE_DIRECTORY_FILE, &dir);
    DbgPrint("drive: mkdir 0x%08X\n", status);
    if (NT_SUCCESS(status)) ZwClose(dir);

    status = Open(L"\\DosDevices\\C:\\drive_test\\data.txt", GENERIC_WRITE, FILE_OVERWRITE_IF, FILE_NON_DIRECTORY_FILE,
                  &h);
    if (!NT_SUCCESS(status)) {
        DbgPrint("drive: create 0x%08X\n", status);
        return STATUS_SUCCESS;
    }
    status = ZwWriteFile(h, NULL, NULL, NULL, &iosb, (PVOID)kText, sizeof kText - 1, NULL, NULL);
    DbgPrint("drive: write 0x%08X %Iu\n", status, iosb.Information);
    ZwClose(h);

    status = Open(L"\\??\\C:\\drive_test\\data.txt", GENERIC_READ | GENERIC_WRITE, FILE_OPEN, FILE_NON_DIRECTORY_FILE,
                  &h);
    DbgPrint("drive: reopen 0x%08X\n", status);
    if (!NT_SUCCESS(status)) return STATUS_SUCCESS;
    status = ZwQueryInformationFile(h, &iosb, &standard, sizeof standard, FileStandardInformation);
    DbgPrint("drive: standard 0x%08X size=%I64d dir=%u links=%lu\n", status, standard.EndOfFile.QuadPart,
             standard.Directory, standard.NumberOfLinks);
    RtlZeroMemory(buffer, sizeof buffer);
    offset.QuadPart = 6;
    status = ZwReadFile(h, NULL, NULL, NULL, &iosb, buffer, 5, &offset, NULL);
    DbgPrint("drive: read@6 0x%08X %Iu '%s'\n", status, iosb.Information, buffer);
    status = ZwQueryInformationFile(h, &iosb, &position, sizeof position, FilePositionInformation);
    DbgPrint("drive: position 0x%08X %I64d\n", status, position.CurrentByteOffset.QuadPart);
    position.CurrentByteOffset.QuadPart = 0;
    status = ZwSetInformationFile(h, &iosb, &position, sizeof position, FilePositionInformation);
    RtlZeroMemory(buffer, sizeof buffer);
    status = ZwReadFile(h, NULL, NULL, NULL, &iosb, buffer, 5, NULL, NULL);
    DbgPrint("drive: read@0 0x%08X %Iu '%s'\n", status, iosb.Information, buffer);
    offset.QuadPart = 100;
    status = ZwReadFile(h, NULL, NULL, NULL, &iosb, buffer, 5, &offset, NULL);
    DbgPrint("drive: read@100 0x%08X\n", status);
    eof.EndOfFile.QuadPart = 5;
    status = ZwSetInformationFile(h, &iosb, &eof, sizeof eof, FileEndOfFileInformation);
    ZwQueryInformationFile(h, &iosb, &standard, sizeof standard, FileStandardInformation);
    DbgPrint("drive: truncate 0x%08X size=%I64d\n", status, standard.EndOfFile.QuadPart);
    status = ZwQueryInformationFile(h, &iosb, &basic, sizeof basic, FileBasicInformation);
    DbgPrint("drive: basic 0x%08X written=%u\n", status, basic.LastWriteTime.QuadPart > 0);
    ZwClose(h);

    status = Open(L"\\SystemRoot\\System32\\drivers", FILE_LIST_DIRECTORY, FILE_OPEN, FILE_DIRECTORY_FILE, &dir);
    DbgPrint("drive: systemroot 0x%08X\n", status);
    if (NT_SUCCESS(status)) ZwClose(dir);

    TryEscape(L"\\??\\C:\\..\\outside.txt");
    TryEscape(L"\\??\\C:\\drive_test\\..\\..\\outside.txt");
    TryEscape(L"\\??\\D:\\outside.txt");
    TryEscape(L"\\??\\C:\\escape\\secret.txt");
    TryEscape(L"\\Device\\HarddiskVolume1\\outside.txt");

    /* Delete by name, then by disposition on an open handle. */
    RtlInitUnicodeString(&u, L"\\??\\C:\\drive_test\\data.txt");
    InitializeObjectAttributes(&attributes, &u, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwDeleteFile(&attributes);
    DbgPrint("drive: delete 0x%08X\n", status);
    status = Open(L"\\??\\C:\\drive_test\\data.txt", GENERIC_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &h);
    DbgPrint("drive: open deleted 0x%08X\n", status);
    status = Open(L"\\??\\C:\\drive_test\\gone.txt", GENERIC_WRITE | DELETE, FILE_CREATE, FILE_NON_DIRECTORY_FILE, &h);
    if (NT_SUCCESS(status)) {
        disposition.DeleteFile = TRUE;
        status = ZwSetInformationFile(h, &iosb, &disposition, sizeof disposition, FileDispositionInformation);
        ZwClose(h);
    }
    DbgPrint("drive: dispose 0x%08X\n", status);
    status = Open(L"\\??\\C:\\drive_test\\gone.txt", GENERIC_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &h);
    DbgPrint("drive: open disposed 0x%08X\n", status);

    /* DOS device names are devices, never files on the drive: NUL takes writes and has no data,
       the others do not exist on the machine. */
    status = Open(L"\\??\\C:\\drive_test\\NUL", GENERIC_READ | GENERIC_WRITE, FILE_OVERWRITE_IF,
                  FILE_NON_DIRECTORY_FILE, &h);
    if (NT_SUCCESS(status)) {
        status = ZwWriteFile(h, NULL, NULL, NULL, &iosb, (PVOID)kText, sizeof kText - 1, NULL, NULL);
        DbgPrint("drive: nul write 0x%08X %Iu\n", status, iosb.Information);
        offset.QuadPart = 0;
        status = ZwReadFile(h, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL);
        ZwClose(h);
    }
    DbgPrint("drive: nul read 0x%08X\n", status);
    TryEscape(L"\\??\\C:\\drive_test\\con.txt");
    TryEscape(L"\\??\\COM1");
    return STATUS_SUCCESS;
}
