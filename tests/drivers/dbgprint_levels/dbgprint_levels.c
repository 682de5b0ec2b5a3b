// DbgPrintEx at several components and levels, so tests can check the Debug Print Filter: each
// line names its component and level.
#include <ntddk.h>

static void Unload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "levels: unload IHVDRIVER error\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  DriverObject->DriverUnload = Unload;
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "levels: IHVDRIVER error\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_WARNING_LEVEL, "levels: IHVDRIVER warning\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "levels: IHVDRIVER trace\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "levels: IHVDRIVER info\n");
  DbgPrintEx(DPFLTR_IHVVIDEO_ID, DPFLTR_WARNING_LEVEL, "levels: IHVVIDEO warning\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, 0x10, "levels: IHVDRIVER mask 0x10\n");
  DbgPrint("levels: DbgPrint (DEFAULT info)\n");
  KdPrint(("levels: KdPrint %d\n", 42));
  return STATUS_SUCCESS;
}
