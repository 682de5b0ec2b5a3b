/* Imports a kernel32 function Wine 8 has only as a stub (BaseCheckAppcompatCache): the program runs,
   and ntbox run warns that calling it would raise an exception. It never calls it. */
#include <windows.h>
#include <stdio.h>

BOOL WINAPI BaseCheckAppcompatCache(void *, void *, void *, void *);

int main(int argc, char **argv)
{
    (void)argv;
    printf("main ran\n");
    if (argc > 5) BaseCheckAppcompatCache(NULL, NULL, NULL, NULL);
    return 0;
}
