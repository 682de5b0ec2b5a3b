/* A program on the Universal CRT (ucrtbase.dll, imported through the api-ms-win-crt-* API sets, as
   MSVC-built programs import it): the API set map must lead ntdll's loader to ucrtbase. Its own
   entry point, no mingw start-up code: what it uses is the UCRT's. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int Compare(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

void __stdcall Start(void)
{
    int numbers[] = {42, 7, 19, 3};
    char *copy = malloc(32);
    qsort(numbers, 4, sizeof numbers[0], Compare);
    strcpy(copy, "ucrt");
    printf("hello from the %s: %d %d %d %d, %ld\n", copy, numbers[0], numbers[1], numbers[2], numbers[3],
           strtol("-12", NULL, 10));
    fflush(stdout);
    free(copy);
    ExitProcess(4);
}
