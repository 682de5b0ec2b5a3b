// msvcrt's per-process variables, in the program's user memory: programs import some of them as
// data (_acmdln, __initenv, _fmode, _commode, _iob ...) and get pointers to others (_errno).
#pragma once
#include <cstdint>

namespace ntbox::user {

// msvcrt's FILE as mingw-w64's stdio.h lays it out: programs index _iob / __iob_func() by it.
struct CrtFile {
  char* ptr;
  int cnt;
  char* base;
  int flag;
  int file;  // the descriptor: 0 stdin, 1 stdout, 2 stderr
  int charbuf;
  int bufsiz;
  char* tmpfname;
};
static_assert(sizeof(CrtFile) == 48);

struct CrtData {
  char* acmdln;          // _acmdln
  char16_t* wcmdln;      // _wcmdln
  char** environ;        // __initenv, _environ
  char16_t** wenviron;   // __winitenv, _wenviron
  int fmode;             // _fmode
  int commode;           // _commode
  int argc;              // __argc
  char** argv;           // __argv
  char16_t** wargv;      // __wargv
  int errnoValue;        // *_errno()
  unsigned long doserrno;
  int mbCurMax;          // __mb_cur_max
  unsigned int codepage;
  int appType;
  std::uint64_t randState;
  CrtFile iob[3];        // _iob: stdin, stdout, stderr
  char* strtokNext;
  char emptyString[8];
  char decimalPoint[8];
  char* lconv[10];       // localeconv(): decimal_point, thousands_sep ... (all "C" locale)
  char lconvChars[8];
  char* emptyEnvironment[2];
  char16_t* emptyWEnvironment[2];
};

}  // namespace ntbox::user
