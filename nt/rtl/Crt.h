// The C runtime subset ntoskrnl exports to drivers. wchar_t is 16 bits on Windows (char16_t
// here); printf-family functions follow Microsoft's rules (rtl/Printf.h), including
// _vsnprintf's return of -1 on truncation and the two-argument swprintf.
#pragma once
#include "nt/Types.h"

namespace ntbox::nt::crt {

using wchar = char16_t;

void* NTAPI memcpy(void* dst, const void* src, SIZE_T n);
void* NTAPI memmove(void* dst, const void* src, SIZE_T n);
void* NTAPI memset(void* dst, int c, SIZE_T n);
int NTAPI memcmp(const void* a, const void* b, SIZE_T n);
const void* NTAPI memchr(const void* s, int c, SIZE_T n);
SIZE_T NTAPI strlen(const char* s);
SIZE_T NTAPI strnlen(const char* s, SIZE_T max);
SIZE_T NTAPI wcslen(const wchar* s);
SIZE_T NTAPI wcsnlen(const wchar* s, SIZE_T max);
int NTAPI strcmp(const char* a, const char* b);
int NTAPI strncmp(const char* a, const char* b, SIZE_T n);
int NTAPI wcscmp(const wchar* a, const wchar* b);
int NTAPI wcsncmp(const wchar* a, const wchar* b, SIZE_T n);
int NTAPI _stricmp(const char* a, const char* b);
int NTAPI _strnicmp(const char* a, const char* b, SIZE_T n);
int NTAPI _wcsicmp(const wchar* a, const wchar* b);
int NTAPI _wcsnicmp(const wchar* a, const wchar* b, SIZE_T n);
char* NTAPI strcpy(char* dst, const char* src);
char* NTAPI strncpy(char* dst, const char* src, SIZE_T n);
char* NTAPI strcat(char* dst, const char* src);
char* NTAPI strncat(char* dst, const char* src, SIZE_T n);
wchar* NTAPI wcscpy(wchar* dst, const wchar* src);
wchar* NTAPI wcsncpy(wchar* dst, const wchar* src, SIZE_T n);
wchar* NTAPI wcscat(wchar* dst, const wchar* src);
wchar* NTAPI wcsncat(wchar* dst, const wchar* src, SIZE_T n);
const char* NTAPI strchr(const char* s, int c);
const char* NTAPI strrchr(const char* s, int c);
const char* NTAPI strstr(const char* s, const char* sub);
const wchar* NTAPI wcschr(const wchar* s, wchar c);
const wchar* NTAPI wcsrchr(const wchar* s, wchar c);
const wchar* NTAPI wcsstr(const wchar* s, const wchar* sub);
char* NTAPI _strupr(char* s);
char* NTAPI _strlwr(char* s);
wchar* NTAPI _wcsupr(wchar* s);
wchar* NTAPI _wcslwr(wchar* s);
int NTAPI toupper(int c);
int NTAPI tolower(int c);
wchar NTAPI towupper(wchar c);
wchar NTAPI towlower(wchar c);
int NTAPI isdigit(int c);
int NTAPI isxdigit(int c);
int NTAPI isspace(int c);
int NTAPI isalpha(int c);
int NTAPI isalnum(int c);
int NTAPI isupper(int c);
int NTAPI islower(int c);
int NTAPI isprint(int c);
int NTAPI iswdigit(wchar c);
int NTAPI iswspace(wchar c);
int NTAPI atoi(const char* s);
LONG NTAPI atol(const char* s);
LONG NTAPI strtol(const char* s, char** end, int base);
ULONG NTAPI strtoul(const char* s, char** end, int base);
LONG NTAPI wcstol(const wchar* s, wchar** end, int base);
ULONG NTAPI wcstoul(const wchar* s, wchar** end, int base);

int NTAPI _vsnprintf(char* buffer, SIZE_T count, const char* format, char* args);
int NTAPI _snprintf(char* buffer, SIZE_T count, const char* format, ...);
int NTAPI vsprintf(char* buffer, const char* format, char* args);
int NTAPI sprintf(char* buffer, const char* format, ...);
int NTAPI _vsnwprintf(wchar* buffer, SIZE_T count, const wchar* format, char* args);
int NTAPI _snwprintf(wchar* buffer, SIZE_T count, const wchar* format, ...);
int NTAPI swprintf(wchar* buffer, const wchar* format, ...);
int NTAPI vswprintf(wchar* buffer, const wchar* format, char* args);
int NTAPI _vscprintf(const char* format, char* args);

}  // namespace ntbox::nt::crt
