// msvcrt.dll for the machine's programs: the start-up mingw-w64's crt2.o calls, stdio on the
// program's console with Microsoft's printf rules (nt/rtl/Printf), the heap, exit handling, and
// the string functions (shared with the kernel's C runtime where they are the same).
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "nt/Status.h"
#include "nt/rtl/Crt.h"
#include "nt/rtl/Printf.h"
#include "user/CodePage.h"
#include "user/Program.h"
#include "user/UserExports.h"
#include "user/Win32Types.h"

namespace ntbox::user::msvcrt {
namespace {

Program& P() { return Program::Current(); }
constexpr int kEof = -1;
constexpr int kErrnoNoMem = 12, kErrnoInval = 22, kErrnoNoEnt = 2;

using UserFunction = void(WINAPI*)();

// Which standard stream a FILE* is (0, 1, 2), or -1 for one that is not the program's.
int StreamOf(const CrtFile* f) {
  const CrtFile* iob = P().crt().iob;
  if (f >= iob && f < iob + 3) return static_cast<int>(f - iob);
  return -1;
}

int Put(const CrtFile* f, const void* data, std::size_t size) {
  const int s = StreamOf(f);
  if (s < 1) {
    P().crt().errnoValue = 9;  // EBADF
    return kEof;
  }
  return P().WriteStd(s, data, size) ? 0 : kEof;
}

void RunExitHandlers() {
  auto& handlers = P().exitHandlers();
  while (!handlers.empty()) {
    const std::uint64_t fn = handlers.back();
    handlers.pop_back();
    reinterpret_cast<UserFunction>(fn)();
  }
}

}  // namespace

// Start-up (what crt2.o's mainCRTStartup calls).
void WINAPI __set_app_type(int type) { P().crt().appType = type; }
void WINAPI __setusermatherr(void*) {}
int WINAPI __getmainargs(int* argc, char*** argv, char*** env, int, void*) {
  CrtData& c = P().crt();
  *argc = c.argc;
  *argv = c.argv;
  *env = c.environ;
  return 0;
}
int WINAPI __wgetmainargs(int* argc, char16_t*** argv, char16_t*** env, int, void*) {
  CrtData& c = P().crt();
  *argc = c.argc;
  *argv = c.wargv;
  *env = c.wenviron;
  return 0;
}
void WINAPI _initterm(std::uint64_t* begin, std::uint64_t* end) {
  for (; begin < end; ++begin) {
    if (*begin) reinterpret_cast<UserFunction>(*begin)();
  }
}
int WINAPI _initterm_e(std::uint64_t* begin, std::uint64_t* end) {
  for (; begin < end; ++begin) {
    if (!*begin) continue;
    if (const int r = reinterpret_cast<int(WINAPI*)()>(*begin)(); r != 0) return r;
  }
  return 0;
}
char*** WINAPI __p___initenv() { return &P().crt().environ; }
int* WINAPI __p__fmode() { return &P().crt().fmode; }
int* WINAPI __p__commode() { return &P().crt().commode; }
char** WINAPI __p__acmdln() { return &P().crt().acmdln; }
int* WINAPI __p___argc() { return &P().crt().argc; }
char*** WINAPI __p___argv() { return &P().crt().argv; }
int* WINAPI _errno() { return &P().crt().errnoValue; }
unsigned long* WINAPI __doserrno() { return &P().crt().doserrno; }
void WINAPI _lock(int) {}
void WINAPI _unlock(int) {}
void* WINAPI signal(int, void*) { return nullptr; /* SIG_DFL */ }
int WINAPI ___lc_codepage_func() { return static_cast<int>(P().crt().codepage); }
int WINAPI ___mb_cur_max_func() { return P().crt().mbCurMax; }
void* WINAPI localeconv() { return P().crt().lconv; }
char* WINAPI setlocale(int, const char* locale) {
  static char c[] = "C";
  return !locale || !*locale || std::strcmp(locale, "C") == 0 ? c : nullptr;
}
void* WINAPI _set_invalid_parameter_handler(void*) { return nullptr; }

// Exit.
[[noreturn]] void WINAPI exit(int code) {
  RunExitHandlers();
  P().Exit(static_cast<std::uint32_t>(code));
}
[[noreturn]] void WINAPI _exit(int code) { P().Exit(static_cast<std::uint32_t>(code)); }
void WINAPI _cexit() { RunExitHandlers(); }
void WINAPI _c_exit() {}
[[noreturn]] void WINAPI abort() {
  // msvcrt's abort: SIGABRT's default action ends the process with exit code 3.
  static const char text[] = "abnormal program termination\n";
  P().WriteStd(2, text, sizeof text - 1);
  P().Exit(3);
}
[[noreturn]] void WINAPI _amsg_exit(int code) {
  const std::string text = "runtime error R60" + std::to_string(code) + "\n";
  P().WriteStd(2, text.data(), text.size());
  P().Exit(255);
}
void* WINAPI _onexit(void* fn) {
  P().exitHandlers().push_back(reinterpret_cast<std::uint64_t>(fn));
  return fn;
}
int WINAPI atexit(void* fn) {
  P().exitHandlers().push_back(reinterpret_cast<std::uint64_t>(fn));
  return 0;
}
void* WINAPI __dllonexit(void* fn, void*, void*) { return _onexit(fn); }

// Heap.
void* WINAPI malloc(std::size_t size) {
  void* p = P().heap().Allocate(size);
  if (!p) P().crt().errnoValue = kErrnoNoMem;
  return p;
}
void* WINAPI calloc(std::size_t count, std::size_t size) {
  if (size && count > SIZE_MAX / size) return nullptr;
  void* p = P().heap().Allocate(count * size, true);
  if (!p) P().crt().errnoValue = kErrnoNoMem;
  return p;
}
void* WINAPI realloc(void* block, std::size_t size) {
  if (block && size == 0) {
    P().heap().Free(block);
    return nullptr;
  }
  return P().heap().Reallocate(block, size);
}
void WINAPI free(void* block) { P().heap().Free(block); }
std::size_t WINAPI _msize(void* block) { return P().heap().SizeOf(block); }
char* WINAPI _strdup(const char* s) {
  const std::size_t n = std::strlen(s) + 1;
  auto* p = static_cast<char*>(malloc(n));
  if (p) std::memcpy(p, s, n);
  return p;
}

// Output.
int WINAPI vfprintf(CrtFile* f, const char* format, char* args) {
  nt::rtl::MsVaList list(args);
  const std::string text = nt::rtl::FormatA(format, list);
  return Put(f, text.data(), text.size()) == 0 ? static_cast<int>(text.size()) : -1;
}
int WINAPI fprintf(CrtFile* f, const char* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = vfprintf(f, format, args);
  __builtin_ms_va_end(args);
  return r;
}
int WINAPI vprintf(const char* format, char* args) { return vfprintf(&P().crt().iob[1], format, args); }
int WINAPI printf(const char* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = vfprintf(&P().crt().iob[1], format, args);
  __builtin_ms_va_end(args);
  return r;
}
int WINAPI vwprintf(const char16_t* format, char* args) {
  nt::rtl::MsVaList list(args);
  const std::u16string text = nt::rtl::FormatW(format, list);
  const std::string utf8 = nt::rtl::AnsiToUtf8(Encode(0, text.data(), static_cast<int>(text.size())));
  return Put(&P().crt().iob[1], utf8.data(), utf8.size()) == 0 ? static_cast<int>(text.size()) : -1;
}
int WINAPI wprintf(const char16_t* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = vwprintf(format, args);
  __builtin_ms_va_end(args);
  return r;
}
int WINAPI fputs(const char* s, CrtFile* f) { return Put(f, s, std::strlen(s)); }
int WINAPI puts(const char* s) {
  std::string line(s);
  line += '\n';
  return Put(&P().crt().iob[1], line.data(), line.size());
}
int WINAPI fputc(int c, CrtFile* f) {
  const char ch = static_cast<char>(c);
  return Put(f, &ch, 1) == 0 ? static_cast<unsigned char>(ch) : kEof;
}
int WINAPI putchar(int c) { return fputc(c, &P().crt().iob[1]); }
std::size_t WINAPI fwrite(const void* data, std::size_t size, std::size_t count, CrtFile* f) {
  if (size == 0 || count == 0) return 0;
  return Put(f, data, size * count) == 0 ? count : 0;
}
int WINAPI fflush(CrtFile*) { return 0; }  // the console streams are unbuffered
int WINAPI setvbuf(CrtFile*, char*, int, std::size_t) { return 0; }
void WINAPI setbuf(CrtFile*, char*) {}
int WINAPI _fileno(CrtFile* f) { return StreamOf(f); }
int WINAPI _isatty(int fd) {
  const StdIo& io = P().stdio();
  const int host = fd == 0 ? io.in : fd == 1 ? io.out : fd == 2 ? io.err : -1;
  return host >= 0 && ::isatty(host) ? 1 : 0;
}
int WINAPI _write(int fd, const void* data, unsigned size) {
  if (fd != 1 && fd != 2) return -1;
  return P().WriteStd(fd, data, size) ? static_cast<int>(size) : -1;
}
int WINAPI ferror(CrtFile*) { return 0; }
CrtFile* WINAPI __iob_func() { return P().crt().iob; }
CrtFile* WINAPI __acrt_iob_func(unsigned index) { return index < 3 ? &P().crt().iob[index] : nullptr; }
CrtFile* WINAPI fopen(const char*, const char*) {
  // Files on the machine's drives come with its file system.
  P().crt().errnoValue = kErrnoNoEnt;
  return nullptr;
}
int WINAPI fclose(CrtFile* f) { return StreamOf(f) >= 0 ? 0 : kEof; }

// Input: stdin only.
int WINAPI fgetc(CrtFile* f) {
  if (StreamOf(f) != 0) return kEof;
  const int c = P().GetStdinChar();
  if (c == kEof) f->flag |= 0x10;  // _IOEOF
  return c;
}
int WINAPI getchar() { return fgetc(&P().crt().iob[0]); }
int WINAPI _getch() { return P().GetStdinChar(); }
int WINAPI ungetc(int c, CrtFile* f) {
  if (StreamOf(f) != 0 || c == kEof) return kEof;
  P().UngetStdinChar(c);
  f->flag &= ~0x10;
  return c;
}
int WINAPI feof(CrtFile* f) { return (f->flag & 0x10) ? 1 : 0; }
char* WINAPI fgets(char* buffer, int size, CrtFile* f) {
  if (size <= 0 || StreamOf(f) != 0) return nullptr;
  int n = 0;
  while (n < size - 1) {
    const int c = fgetc(f);
    if (c == kEof) break;
    buffer[n++] = static_cast<char>(c);
    if (c == '\n') break;
  }
  if (n == 0) return nullptr;
  buffer[n] = 0;
  return buffer;
}
std::size_t WINAPI fread(void* data, std::size_t size, std::size_t count, CrtFile* f) {
  if (size == 0 || StreamOf(f) != 0) return 0;
  auto* out = static_cast<char*>(data);
  std::size_t bytes = 0;
  for (; bytes < size * count; ++bytes) {
    const int c = fgetc(f);
    if (c == kEof) break;
    out[bytes] = static_cast<char>(c);
  }
  return bytes / size;
}

// Strings and numbers not in the kernel's C runtime.
const char* WINAPI strerror(int e) {
  switch (e) {
    case 0: return "No error";
    case kErrnoNoEnt: return "No such file or directory";
    case 9: return "Bad file descriptor";
    case kErrnoNoMem: return "Not enough space";
    case kErrnoInval: return "Invalid argument";
    default: return "Unknown error";
  }
}
char* WINAPI strtok(char* s, const char* delimiters) {
  char*& next = P().crt().strtokNext;
  if (s) next = s;
  if (!next) return nullptr;
  next += std::strspn(next, delimiters);
  if (!*next) return next = nullptr;
  char* token = next;
  next += std::strcspn(next, delimiters);
  if (*next) *next++ = 0;
  else next = nullptr;
  return token;
}
std::size_t WINAPI strspn(const char* s, const char* accept) { return std::strspn(s, accept); }
std::size_t WINAPI strcspn(const char* s, const char* reject) { return std::strcspn(s, reject); }
const char* WINAPI strpbrk(const char* s, const char* accept) { return std::strpbrk(s, accept); }
double WINAPI strtod(const char* s, char** end) { return std::strtod(s, end); }
double WINAPI atof(const char* s) { return std::strtod(s, nullptr); }
std::int64_t WINAPI _atoi64(const char* s) { return std::strtoll(s, nullptr, 10); }
std::int64_t WINAPI _strtoi64(const char* s, char** end, int base) { return std::strtoll(s, end, base); }
std::uint64_t WINAPI _strtoui64(const char* s, char** end, int base) { return std::strtoull(s, end, base); }
int WINAPI abs(int v) { return v < 0 ? -v : v; }
long WINAPI labs(long v) { return v < 0 ? -v : v; }
int WINAPI rand() {
  // msvcrt's generator: x = x * 214013 + 2531011, 15 bits out.
  std::uint64_t& state = P().crt().randState;
  state = (state * 214013u + 2531011u) & 0xFFFFFFFFu;
  return static_cast<int>((state >> 16) & 0x7FFF);
}
void WINAPI srand(unsigned seed) { P().crt().randState = seed; }
std::int64_t WINAPI time(std::int64_t* out) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (out) *out = now;
  return now;
}
std::int64_t WINAPI _time64(std::int64_t* out) { return time(out); }
long WINAPI clock() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<long>(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);  // CLOCKS_PER_SEC 1000
}
char* WINAPI getenv(const char*) { return nullptr; }
int WINAPI system(const char*) {
  P().crt().errnoValue = kErrnoNoEnt;
  return -1;
}
void WINAPI qsort(void* base, std::size_t count, std::size_t size, int(WINAPI* compare)(const void*, const void*)) {
  // Insertion sort: stable, no allocation, and it calls the program's comparator directly.
  auto* bytes = static_cast<char*>(base);
  std::string tmp(size, '\0');
  for (std::size_t i = 1; i < count; ++i) {
    std::memcpy(tmp.data(), bytes + i * size, size);
    std::size_t j = i;
    while (j > 0 && compare(bytes + (j - 1) * size, tmp.data()) > 0) {
      std::memcpy(bytes + j * size, bytes + (j - 1) * size, size);
      --j;
    }
    std::memcpy(bytes + j * size, tmp.data(), size);
  }
}
void* WINAPI bsearch(const void* key, const void* base, std::size_t count, std::size_t size,
                     int(WINAPI* compare)(const void*, const void*)) {
  std::size_t lo = 0, hi = count;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const void* at = static_cast<const char*>(base) + mid * size;
    const int c = compare(key, at);
    if (c == 0) return const_cast<void*>(at);
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return nullptr;
}

// Minimal scanf: %d %i %u %x %ld %lld %s %c %[width], what test programs read from stdin.
namespace {
template <class Next, class Unget>
int Scan(const char* format, char* args, Next next, Unget unget) {
  nt::rtl::MsVaList list(args);
  int assigned = 0;
  int c = next();
  auto skipSpace = [&] {
    while (c != kEof && std::isspace(c)) c = next();
  };
  for (const char* f = format; *f; ++f) {
    if (std::isspace(static_cast<unsigned char>(*f))) {
      skipSpace();
      continue;
    }
    if (*f != '%' || f[1] == '%') {
      if (*f == '%') ++f;
      if (c != static_cast<unsigned char>(*f)) break;
      c = next();
      continue;
    }
    ++f;
    const bool suppress = *f == '*';
    if (suppress) ++f;
    int width = 0;
    while (std::isdigit(static_cast<unsigned char>(*f))) width = width * 10 + (*f++ - '0');
    int longs = 0;
    while (*f == 'l' || *f == 'h' || *f == 'I') {
      if (*f == 'l') ++longs;
      if (*f == 'I' && f[1] == '6' && f[2] == '4') {
        longs = 2;
        f += 2;
      }
      ++f;
    }
    const char type = *f;
    if (type == 'c') {
      const int n = width ? width : 1;
      char* out = suppress ? nullptr : reinterpret_cast<char*>(list.NextInteger());
      for (int i = 0; i < n; ++i) {
        if (c == kEof) return assigned ? assigned : kEof;
        if (out) out[i] = static_cast<char>(c);
        c = next();
      }
      if (out) ++assigned;
      continue;
    }
    skipSpace();
    if (c == kEof) return assigned ? assigned : kEof;
    std::string token;
    const int limit = width ? width : INT32_MAX;
    if (type == 's') {
      while (c != kEof && !std::isspace(c) && static_cast<int>(token.size()) < limit) {
        token += static_cast<char>(c);
        c = next();
      }
      if (!suppress) {
        char* out = reinterpret_cast<char*>(list.NextInteger());
        std::memcpy(out, token.c_str(), token.size() + 1);
        ++assigned;
      }
      continue;
    }
    const int base = type == 'x' || type == 'X' ? 16 : type == 'o' ? 8 : type == 'i' ? 0 : 10;
    while (c != kEof && static_cast<int>(token.size()) < limit &&
           (std::isxdigit(c) || c == '-' || c == '+' || c == 'x' || c == 'X')) {
      if (base == 10 && !std::isdigit(c) && c != '-' && c != '+') break;
      token += static_cast<char>(c);
      c = next();
    }
    char* end = nullptr;
    const long long v = std::strtoll(token.c_str(), &end, base);
    if (token.empty() || end == token.c_str()) break;
    if (!suppress) {
      void* out = reinterpret_cast<void*>(list.NextInteger());
      if (longs >= 2) *static_cast<long long*>(out) = v;
      else *static_cast<std::int32_t*>(out) = static_cast<std::int32_t>(v);
      ++assigned;
    }
  }
  unget(c);
  return assigned;
}
}  // namespace

int WINAPI scanf(const char* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const int r = Scan(format, args, [] { return P().GetStdinChar(); }, [](int c) { P().UngetStdinChar(c); });
  __builtin_ms_va_end(args);
  return r;
}
int WINAPI sscanf(const char* s, const char* format, ...) {
  __builtin_ms_va_list args;
  __builtin_ms_va_start(args, format);
  const char* at = s;
  const int r = Scan(format, args, [&at] { return *at ? static_cast<unsigned char>(*at++) : kEof; }, [](int) {});
  __builtin_ms_va_end(args);
  return r;
}

}  // namespace ntbox::user::msvcrt

namespace ntbox::user {

#define CRT(name) UserExport{"msvcrt.dll", #name, reinterpret_cast<void*>(&msvcrt::name)}
#define KCRT(name) UserExport{"msvcrt.dll", #name, reinterpret_cast<void*>(&nt::crt::name)}

std::span<const UserExport> MsvcrtExports() {
  static const auto table = std::to_array<UserExport>({
      CRT(__set_app_type), CRT(__setusermatherr), CRT(__getmainargs), CRT(__wgetmainargs), CRT(_initterm),
      CRT(_initterm_e), CRT(__p___initenv), CRT(__p__fmode), CRT(__p__commode), CRT(__p__acmdln), CRT(__p___argc),
      CRT(__p___argv), CRT(_errno), CRT(__doserrno), CRT(_lock), CRT(_unlock), CRT(signal), CRT(___lc_codepage_func),
      CRT(___mb_cur_max_func), CRT(localeconv), CRT(setlocale), CRT(_set_invalid_parameter_handler),
      UserExport{"msvcrt.dll", "__C_specific_handler", FindUserExport("kernel32.dll", "__C_specific_handler")->address},
      CRT(exit), CRT(_exit), CRT(_cexit), CRT(_c_exit), CRT(abort), CRT(_amsg_exit), CRT(_onexit), CRT(atexit),
      CRT(__dllonexit), CRT(malloc), CRT(calloc), CRT(realloc), CRT(free), CRT(_msize), CRT(_strdup),
      UserExport{"msvcrt.dll", "strdup", reinterpret_cast<void*>(&msvcrt::_strdup)},
      CRT(vfprintf), CRT(fprintf), CRT(vprintf), CRT(printf), CRT(vwprintf), CRT(wprintf), CRT(fputs), CRT(puts),
      CRT(fputc), UserExport{"msvcrt.dll", "putc", reinterpret_cast<void*>(&msvcrt::fputc)}, CRT(putchar),
      CRT(fwrite), CRT(fflush), CRT(setvbuf), CRT(setbuf), CRT(_fileno), CRT(_isatty), CRT(_write), CRT(ferror),
      CRT(__iob_func), CRT(__acrt_iob_func), CRT(fopen), CRT(fclose), CRT(fgetc),
      UserExport{"msvcrt.dll", "getc", reinterpret_cast<void*>(&msvcrt::fgetc)}, CRT(getchar), CRT(_getch),
      CRT(ungetc), CRT(feof), CRT(fgets), CRT(fread), CRT(strerror), CRT(strtok), CRT(strspn), CRT(strcspn),
      CRT(strpbrk), CRT(strtod), CRT(atof), CRT(_atoi64), CRT(_strtoi64), CRT(_strtoui64), CRT(abs), CRT(labs),
      CRT(rand), CRT(srand), CRT(time), CRT(_time64), CRT(clock), CRT(getenv), CRT(system), CRT(qsort),
      CRT(bsearch), CRT(scanf), CRT(sscanf),
      KCRT(memcpy), KCRT(memmove), KCRT(memset), KCRT(memcmp), KCRT(memchr), KCRT(strlen), KCRT(strnlen),
      KCRT(wcslen), KCRT(wcsnlen), KCRT(strcmp), KCRT(strncmp), KCRT(wcscmp), KCRT(wcsncmp), KCRT(_stricmp),
      KCRT(_strnicmp), KCRT(_wcsicmp), KCRT(_wcsnicmp), KCRT(strcpy), KCRT(strncpy), KCRT(strcat), KCRT(strncat),
      KCRT(wcscpy), KCRT(wcsncpy), KCRT(wcscat), KCRT(wcsncat), KCRT(strchr), KCRT(strrchr), KCRT(strstr),
      KCRT(wcschr), KCRT(wcsrchr), KCRT(wcsstr), KCRT(_strupr), KCRT(_strlwr), KCRT(toupper), KCRT(tolower),
      KCRT(towupper), KCRT(towlower), KCRT(isdigit), KCRT(isxdigit), KCRT(isspace), KCRT(isalpha), KCRT(isalnum),
      KCRT(isupper), KCRT(islower), KCRT(isprint), KCRT(atoi), KCRT(atol), KCRT(strtol), KCRT(strtoul),
      KCRT(wcstol), KCRT(wcstoul), KCRT(_vsnprintf), KCRT(_snprintf), KCRT(vsprintf), KCRT(sprintf),
      KCRT(_vsnwprintf), KCRT(_snwprintf), KCRT(swprintf), KCRT(vswprintf), KCRT(_vscprintf),
  });
  return table;
}

}  // namespace ntbox::user
