// DriverEntry fails: the service must not start and sc must report the mapped Win32 error.
#include <ntddk.h>

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  DbgPrint("failing_entry: giving up with STATUS_INSUFFICIENT_RESOURCES\n");
  return STATUS_INSUFFICIENT_RESOURCES;
}
