/* A program importing a DLL from its own folder (greeting.dll). */
#include <stdio.h>

__declspec(dllimport) const char* Greeting(void);

int main(void) {
  printf("%s\n", Greeting());
  return 0;
}
