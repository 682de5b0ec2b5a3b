/* Lists what a pattern matches, as `dir /b` would (FindFirstFile/FindNextFile over
   NtQueryDirectoryFile), and reads one file's size and position through its handle. */
#include <windows.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    WIN32_FIND_DATAA data;
    int count = 0;
    if (argc < 2) return 100;
    HANDLE find = FindFirstFileA(argv[1], &data);
    if (find == INVALID_HANDLE_VALUE) {
        printf("FindFirstFile: error %lu\n", GetLastError());
        return 1;
    }
    do {
        if (data.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
            printf("%-12s <DIR>\n", data.cFileName);
        else
            printf("%-12s %lu\n", data.cFileName, data.nFileSizeLow);
        ++count;
    } while (FindNextFileA(find, &data));
    printf("%d found, then error %lu\n", count, GetLastError());
    FindClose(find);
    if (argc > 2) {
        HANDLE f = CreateFileA(argv[2], GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
        char buffer[4];
        DWORD got = 0;
        if (f == INVALID_HANDLE_VALUE) return printf("CreateFile: error %lu\n", GetLastError()), 2;
        printf("size %lu\n", GetFileSize(f, NULL));
        ReadFile(f, buffer, 2, &got, NULL);
        printf("position after reading 2: %lu\n", SetFilePointer(f, 0, NULL, FILE_CURRENT));
        CloseHandle(f);
    }
    if (argc > 3) {
        char fs[32] = "";
        ULARGE_INTEGER available, total, free;
        DWORD serial = 0, maxName = 0, flags = 0;
        BOOL sizes = GetDiskFreeSpaceExA(argv[3], &available, &total, &free);
        BOOL volume = GetVolumeInformationA(argv[3], NULL, 0, &serial, &maxName, &flags, fs, sizeof fs);
        printf("disk space %s (total > 0: %s, free <= total: %s)\n", sizes ? "ok" : "error",
               total.QuadPart > 0 ? "yes" : "no", free.QuadPart <= total.QuadPart ? "yes" : "no");
        printf("volume %s: file system %s, names up to %lu\n", volume ? "ok" : "error", fs, maxName);
    }
    return 0;
}
