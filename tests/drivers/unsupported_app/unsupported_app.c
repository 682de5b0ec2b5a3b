/* Imports kernel32 functions ntbox does not implement: ntbox run must refuse it before main,
   naming each missing DLL!function. */
#include <windows.h>
#include <stdio.h>

int main(void) {
  SYSTEM_POWER_STATUS power;
  printf("main ran\n");
  GetSystemPowerStatus(&power);
  Beep(440, 10);
  return 0;
}
