/* A native program whose own code faults: the program ends with the exception's code, the
   machine runs on (its GS block is its TEB: the trap handler must tell it from a broken GS). */
#include <windows.h>

void __stdcall NtProcessStartup(void *peb)
{
    (void)peb;
    *(volatile int *)(ULONG_PTR)0x10 = 1;
}
