/* System calls from a program on Wine's DLLs (bench/UserModeBench): N calls of NtClose on a handle
   that does not exist (the entry, the dispatch and the machine's lock, no work), timed with
   QueryPerformanceCounter; prints "ns_per_call X". */
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

NTSTATUS NTAPI NtClose(HANDLE);

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    LARGE_INTEGER f, a, b;
    long i;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&a);
    for (i = 0; i < n; i++) NtClose((HANDLE)(ULONG_PTR)0x1234);
    QueryPerformanceCounter(&b);
    printf("ns_per_call %.1f\n", (double)(b.QuadPart - a.QuadPart) * 1e9 / (double)f.QuadPart / (double)n);
    return 0;
}
