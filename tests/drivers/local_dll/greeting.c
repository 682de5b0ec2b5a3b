/* A DLL that lives beside its program (greeter.exe): found in the program's folder, as Windows'
   loader looks there first. */
__declspec(dllexport) const char* Greeting(void) { return "greetings from a DLL beside the program"; }
