/* A program that tries to leave its machine with Linux system calls made directly (ntbox runs it
   natively inside its server), the attempt named by its argument:
     create   open("/tmp/ntbox-escape-app-marker", O_CREAT|O_WRONLY)
     read     open("/etc/passwd", O_RDONLY): a host file anyone may read
     execve   execve("/bin/sh", ...)
     socket   socket(AF_INET, SOCK_STREAM)
   It prints what each call returned; a denied one ends it before it can. */
#include <stdio.h>
#include <string.h>

static long long LinuxCall(long long nr, long long a, long long b, long long c) {
  long long ret;
  __asm__ __volatile__("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

int main(int argc, char** argv) {
  long long ret = 0;
  if (argc < 2) return 2;
  if (strcmp(argv[1], "create") == 0) {
    ret = LinuxCall(2, (long long)"/tmp/ntbox-escape-app-marker", 0101, 0644);
  } else if (strcmp(argv[1], "read") == 0) {
    ret = LinuxCall(2, (long long)"/etc/passwd", 0, 0);
  } else if (strcmp(argv[1], "execve") == 0) {
    static const char* args[] = {"sh", "-c", "touch /tmp/ntbox-escape-app-marker", NULL};
    ret = LinuxCall(59, (long long)"/bin/sh", (long long)args, 0);
  } else if (strcmp(argv[1], "socket") == 0) {
    ret = LinuxCall(41, 2, 1, 0);
  } else {
    return 2;
  }
  printf("escape_app: %s returned %lld\n", argv[1], ret);
  return ret < 0 ? 1 : 0;
}
