/* The smallest console program: what issue 16's user mode must run on Wine's DLLs first. */
#include <stdio.h>

int main(void)
{
    printf("hello from a Win32 program\n");
    return 3;
}
