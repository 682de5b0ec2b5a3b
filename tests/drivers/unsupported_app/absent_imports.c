/* Imports that no DLL of the machine provides: a function Windows 10 has and Wine 8's kernel32
   lacks, and a DLL that does not exist. On Wine's DLLs ntbox run refuses it before main, naming
   each DLL!function. */
#include <windows.h>
#include <stdio.h>

BOOL WINAPI GetProcessDefaultCpuSets(HANDLE process, ULONG *ids, ULONG count, ULONG *required);
int WINAPI AbsentFunction(void);

int main(void)
{
    ULONG required = 0;
    printf("main ran\n");
    GetProcessDefaultCpuSets(GetCurrentProcess(), NULL, 0, &required);
    return AbsentFunction();
}
