/* A driver that tries to leave its machine, one attempt per service name (as an attacker's driver
   would, with Linux system calls made directly: ntbox runs it natively inside its server):
     escape_create      syscall open("/tmp/ntbox-escape-marker", O_CREAT|O_WRONLY)  a file outside
     escape_proc_mem    syscall open("/proc/self/mem", O_RDWR)                      the host's memory
     escape_etc         syscall open("/etc/ntbox-escape-marker", O_CREAT|O_WRONLY)
     escape_shadow      syscall open("/etc/shadow", O_RDONLY): root's secrets (the process is not root)
     escape_execve      syscall execve("/bin/sh", ["sh", "-c", "touch marker"], NULL)
     escape_int80       int 0x80 creat("/tmp/ntbox-escape-marker") (the i386 entry)
     escape_sysenter    sysenter
     escape_socket      syscall socket(AF_INET, SOCK_STREAM) (then connect to 127.0.0.1)
     escape_kill        syscall kill(-1, 0): every process
     escape_kill_init   syscall kill(1, 0): another process
     escape_ptrace      syscall ptrace(PTRACE_TRACEME)
   What a call returned goes to DbgPrint; DriverEntry fails when the attempt failed. */
#include <ntddk.h>

#include "../common/service_name.h"

/* Linux's x86-64 system call: number in rax, arguments in rdi, rsi, rdx, r10. */
static LONG64 LinuxCall(LONG64 nr, LONG64 a, LONG64 b, LONG64 c, LONG64 d) {
  LONG64 ret;
  register LONG64 r10 __asm__("r10") = d;
  __asm__ __volatile__("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return ret;
}

static const char kMarker[] = "/tmp/ntbox-escape-marker";

static NTSTATUS Outcome(const char* what, LONG64 ret) {
  DbgPrint("escape: %s returned %I64d\n", what, ret);
  return ret < 0 ? STATUS_ACCESS_DENIED : STATUS_SUCCESS;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING path) {
  UNREFERENCED_PARAMETER(driver);
  if (Is(path, L"escape_create")) return Outcome("open(/tmp, O_CREAT)", LinuxCall(2, (LONG64)kMarker, 0101, 0644, 0));
  if (Is(path, L"escape_proc_mem")) return Outcome("open(/proc/self/mem, O_RDWR)", LinuxCall(2, (LONG64)"/proc/self/mem", 02, 0, 0));
  if (Is(path, L"escape_etc")) {
    return Outcome("open(/etc, O_CREAT)", LinuxCall(2, (LONG64)"/etc/ntbox-escape-marker", 0101, 0644, 0));
  }
  if (Is(path, L"escape_shadow")) return Outcome("open(/etc/shadow)", LinuxCall(2, (LONG64) "/etc/shadow", 0, 0, 0));
  if (Is(path, L"escape_execve")) {
    static const char* argv[] = {"sh", "-c", "touch /tmp/ntbox-escape-marker", NULL};
    return Outcome("execve", LinuxCall(59, (LONG64) "/bin/sh", (LONG64)argv, 0, 0));
  }
  if (Is(path, L"escape_int80")) {
    LONG ret;
    /* i386 creat (8) with a 32-bit pointer: the string is copied below 4 GiB only by chance, so
       the call may fail on its own; what matters is that it never runs. */
    __asm__ __volatile__("int $0x80" : "=a"(ret) : "a"(8), "b"((ULONG)(ULONG_PTR)kMarker), "c"(0644) : "memory");
    return Outcome("int 0x80", ret);
  }
  if (Is(path, L"escape_sysenter")) {
    __asm__ __volatile__("sysenter" : : "a"(8) : "rcx", "r11", "memory");
    return Outcome("sysenter", 0);
  }
  if (Is(path, L"escape_socket")) return Outcome("socket(AF_INET)", LinuxCall(41, 2, 1, 0, 0));
  if (Is(path, L"escape_kill")) return Outcome("kill(-1, 0)", LinuxCall(62, -1, 0, 0, 0));
  if (Is(path, L"escape_kill_init")) return Outcome("kill(1, 0)", LinuxCall(62, 1, 0, 0, 0));
  if (Is(path, L"escape_ptrace")) return Outcome("ptrace(PTRACE_TRACEME)", LinuxCall(101, 0, 0, 0, 0));
  return STATUS_NOT_SUPPORTED;
}
