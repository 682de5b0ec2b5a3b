/* A driver that tries to leave its machine, one attempt per service name (as an attacker's driver
   would, with Linux system calls made directly: ntbox runs it natively inside its server):
     escape_create      syscall open("/tmp/ntbox-escape-marker", O_CREAT|O_WRONLY)  a file outside
     escape_proc_mem    syscall open("/proc/self/mem", O_RDWR)                      the host's memory
     escape_etc         syscall open("/etc/ntbox-escape-marker", O_CREAT|O_WRONLY)
     escape_shadow      syscall open("/etc/shadow", O_RDONLY): root's secrets (the process is not root)
     escape_read        syscall open("/etc/passwd", O_RDONLY): a host file anyone may read
     escape_execve      syscall execve("/bin/sh", ["sh", "-c", "touch marker"], NULL)
     escape_int80       int 0x80 creat("/tmp/ntbox-escape-marker") (the i386 entry)
     escape_sysenter    sysenter
     escape_socket      syscall socket(AF_INET, SOCK_STREAM) (then connect to 127.0.0.1)
     escape_kill        syscall kill(-1, 0): every process
     escape_kill_init   syscall kill(1, 0): another process
     escape_ptrace      syscall ptrace(PTRACE_TRACEME)
     escape_libc        libc's system("touch marker"), found as an attacker finds it: from DriverEntry's
                        return address down to the ntbox executable's ELF header, its dynamic
                        section's DT_DEBUG to the dynamic linker's list of loaded objects, libc's
                        GNU hash table to "system"; then called with the System V convention
     escape_fork        libc's fork(), then execve("/bin/sh") in the child (found the same way)
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

/* The ELF structures the walk reads (x86-64), as the System V ABI lays them out. */
typedef struct {
  UCHAR e_ident[16];
  USHORT e_type, e_machine;
  ULONG e_version;
  ULONG64 e_entry, e_phoff, e_shoff;
  ULONG e_flags;
  USHORT e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
} ElfHeader;
typedef struct {
  ULONG p_type, p_flags;
  ULONG64 p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
} ElfProgramHeader;
typedef struct {
  LONG64 d_tag;
  ULONG64 d_val;
} ElfDynamic;
typedef struct {
  ULONG st_name;
  UCHAR st_info, st_other;
  USHORT st_shndx;
  ULONG64 st_value, st_size;
} ElfSymbol;
typedef struct LinkMap {
  ULONG64 l_addr;
  const char* l_name;
  ElfDynamic* l_ld;
  struct LinkMap *l_next, *l_prev;
} LinkMap;
typedef struct {
  int r_version;
  LinkMap* r_map;
} RDebug;

static ULONG64 DynamicValue(const ElfDynamic* d, LONG64 tag) {
  for (; d->d_tag != 0; ++d) {
    if (d->d_tag == tag) return d->d_val;
  }
  return 0;
}

static BOOLEAN Contains(const char* text, const char* part) {
  SIZE_T n = strlen(part);
  for (; *text; ++text) {
    if (strncmp(text, part, n) == 0) return TRUE;
  }
  return FALSE;
}

/* libc's function name, or NULL. */
static void* FindLibc(ULONG64 returnAddress, const char* name) {
  const UCHAR* page = (const UCHAR*)(returnAddress & ~0xFFFull);
  const ElfHeader* exe;
  const ElfProgramHeader* ph;
  const ElfDynamic* dynamic = NULL;
  const RDebug* debug;
  const LinkMap* m;
  ULONG64 bias = 0;
  int i;
  while (!(page[0] == 0x7F && page[1] == 'E' && page[2] == 'L' && page[3] == 'F')) page -= 0x1000;
  exe = (const ElfHeader*)page;
  ph = (const ElfProgramHeader*)(page + exe->e_phoff);
  for (i = 0; i < exe->e_phnum; ++i) {
    if (ph[i].p_type == 6 /* PT_PHDR */) bias = (ULONG64)ph - ph[i].p_vaddr;
  }
  for (i = 0; i < exe->e_phnum; ++i) {
    if (ph[i].p_type == 2 /* PT_DYNAMIC */) dynamic = (const ElfDynamic*)(bias + ph[i].p_vaddr);
  }
  if (!dynamic) return NULL;
  debug = (const RDebug*)DynamicValue(dynamic, 21 /* DT_DEBUG */);
  for (m = debug ? debug->r_map : NULL; m; m = m->l_next) {
    ULONG64 strtab, symtab, gnuHash, hash = 5381;
    const ULONG* h;
    const ULONG64* bloom;
    const ULONG *buckets, *chain;
    const char* c;
    ULONG index;
    if (!m->l_name || !Contains(m->l_name, "libc.so")) continue;
    strtab = DynamicValue(m->l_ld, 5 /* DT_STRTAB */);
    symtab = DynamicValue(m->l_ld, 6 /* DT_SYMTAB */);
    gnuHash = DynamicValue(m->l_ld, 0x6ffffef5 /* DT_GNU_HASH */);
    if (!strtab || !symtab || !gnuHash) return NULL;
    /* The dynamic linker relocated these in place; an unrelocated one is an offset. */
    if (strtab < m->l_addr) strtab += m->l_addr;
    if (symtab < m->l_addr) symtab += m->l_addr;
    if (gnuHash < m->l_addr) gnuHash += m->l_addr;
    for (c = name; *c; ++c) hash = hash * 33 + (UCHAR)*c;
    hash &= 0xFFFFFFFF;
    h = (const ULONG*)gnuHash;
    bloom = (const ULONG64*)(h + 4);
    buckets = (const ULONG*)(bloom + h[2]);
    chain = buckets + h[0];
    index = buckets[hash % h[0]];
    if (index < h[1]) return NULL;
    for (;; ++index) {
      const ULONG other = chain[index - h[1]];
      const ElfSymbol* sym = (const ElfSymbol*)symtab + index;
      if ((other | 1) == (hash | 1) && strcmp((const char*)strtab + sym->st_name, name) == 0) {
        return (void*)(m->l_addr + sym->st_value);
      }
      if (other & 1) return NULL;
    }
  }
  return NULL;
}

typedef int(__attribute__((sysv_abi)) * HostSystem)(const char* command);
typedef int(__attribute__((sysv_abi)) * HostFork)(void);
typedef int(__attribute__((sysv_abi)) * HostExecve)(const char* path, char* const* argv, char* const* envp);
typedef int(__attribute__((sysv_abi)) * HostWaitpid)(int pid, int* status, int options);

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING path) {
  UNREFERENCED_PARAMETER(driver);
  if (Is(path, L"escape_create")) return Outcome("open(/tmp, O_CREAT)", LinuxCall(2, (LONG64)kMarker, 0101, 0644, 0));
  if (Is(path, L"escape_proc_mem")) return Outcome("open(/proc/self/mem, O_RDWR)", LinuxCall(2, (LONG64)"/proc/self/mem", 02, 0, 0));
  if (Is(path, L"escape_etc")) {
    return Outcome("open(/etc, O_CREAT)", LinuxCall(2, (LONG64)"/etc/ntbox-escape-marker", 0101, 0644, 0));
  }
  if (Is(path, L"escape_shadow")) return Outcome("open(/etc/shadow)", LinuxCall(2, (LONG64) "/etc/shadow", 0, 0, 0));
  if (Is(path, L"escape_read")) return Outcome("open(/etc/passwd)", LinuxCall(2, (LONG64) "/etc/passwd", 0, 0, 0));
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
  if (Is(path, L"escape_libc")) {
    HostSystem host = (HostSystem)FindLibc((ULONG64)__builtin_return_address(0), "system");
    DbgPrint("escape: libc's system found: %s\n", host ? "yes" : "no");
    if (!host) return STATUS_NOT_FOUND;
    return Outcome("system(touch marker)", host("touch /tmp/ntbox-escape-marker") == 0 ? 0 : -1);
  }
  if (Is(path, L"escape_fork")) {
    const ULONG64 from = (ULONG64)__builtin_return_address(0);
    HostFork forkFn = (HostFork)FindLibc(from, "fork");
    HostExecve execveFn = (HostExecve)FindLibc(from, "execve");
    HostWaitpid waitpidFn = (HostWaitpid)FindLibc(from, "waitpid");
    static char* argv[] = {"sh", "-c", "touch /tmp/ntbox-escape-marker", NULL};
    int pid, status = 0;
    if (!forkFn || !execveFn || !waitpidFn) return STATUS_NOT_FOUND;
    pid = forkFn();
    if (pid == 0) {
      execveFn("/bin/sh", argv, NULL);
      for (;;) {
      }
    }
    if (pid > 0) waitpidFn(pid, &status, 0);
    DbgPrint("escape: fork gave a child, which ended with status 0x%x\n", status);
    return Outcome("fork + execve", status == 0 ? 0 : -1);
  }
  if (Is(path, L"escape_ptrace")) return Outcome("ptrace(PTRACE_TRACEME)", LinuxCall(101, 0, 0, 0, 0));
  return STATUS_NOT_SUPPORTED;
}
