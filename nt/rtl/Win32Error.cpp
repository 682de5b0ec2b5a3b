#include "nt/rtl/Win32Error.h"

#include <array>
#include <utility>

namespace ntbox::nt {
namespace {

constexpr std::array<std::pair<std::uint32_t, ULONG>, 45> kStatusToWin32{{
    {0x00000103, 997},   // STATUS_PENDING → ERROR_IO_PENDING
    {0x80000002, 998},   // STATUS_DATATYPE_MISALIGNMENT → ERROR_NOACCESS
    {0x80000005, 234},   // STATUS_BUFFER_OVERFLOW → ERROR_MORE_DATA
    {0xC0000001, 31},    // STATUS_UNSUCCESSFUL → ERROR_GEN_FAILURE
    {0xC0000002, 1},     // STATUS_NOT_IMPLEMENTED → ERROR_INVALID_FUNCTION
    {0xC0000003, 87},    // STATUS_INVALID_INFO_CLASS
    {0xC0000004, 24},    // STATUS_INFO_LENGTH_MISMATCH → ERROR_BAD_LENGTH
    {0xC0000005, 998},   // STATUS_ACCESS_VIOLATION → ERROR_NOACCESS
    {0xC0000008, 6},     // STATUS_INVALID_HANDLE
    {0xC000000D, 87},    // STATUS_INVALID_PARAMETER
    {0xC000000E, 2},     // STATUS_NO_SUCH_DEVICE → ERROR_FILE_NOT_FOUND
    {0xC000000F, 2},     // STATUS_NO_SUCH_FILE
    {0xC0000010, 1},     // STATUS_INVALID_DEVICE_REQUEST → ERROR_INVALID_FUNCTION
    {0xC0000017, 8},     // STATUS_NO_MEMORY → ERROR_NOT_ENOUGH_MEMORY
    {0xC0000016, 234},   // STATUS_MORE_PROCESSING_REQUIRED → ERROR_MORE_DATA
    {0xC0000022, 5},
    {0xC0000024, 6},     // STATUS_OBJECT_TYPE_MISMATCH → ERROR_INVALID_HANDLE
    {0xC0000033, 123},   // STATUS_OBJECT_NAME_INVALID → ERROR_INVALID_NAME     // STATUS_ACCESS_DENIED
    {0xC0000023, 122},   // STATUS_BUFFER_TOO_SMALL → ERROR_INSUFFICIENT_BUFFER
    {0xC0000034, 2},     // STATUS_OBJECT_NAME_NOT_FOUND
    {0xC0000035, 183},   // STATUS_OBJECT_NAME_COLLISION → ERROR_ALREADY_EXISTS
    {0xC000003A, 3},     // STATUS_OBJECT_PATH_NOT_FOUND
    {0xC0000043, 32},    // STATUS_SHARING_VIOLATION
    {0xC0000056, 5},     // STATUS_DELETE_PENDING
    {0xC000007A, 127},   // STATUS_PROCEDURE_NOT_FOUND
    {0xC000007B, 193},   // STATUS_INVALID_IMAGE_FORMAT → ERROR_BAD_EXE_FORMAT
    {0xC000009A, 1450},  // STATUS_INSUFFICIENT_RESOURCES → ERROR_NO_SYSTEM_RESOURCES
    {0xC00000A2, 19},    // STATUS_MEDIA_WRITE_PROTECTED
    {0xC00000B5, 1460},  // STATUS_IO_TIMEOUT → ERROR_TIMEOUT
    {0xC00000BA, 5},     // STATUS_FILE_IS_A_DIRECTORY
    {0xC00000BB, 50},    // STATUS_NOT_SUPPORTED
    {0xC00000E5, 1359},
    {0xC00000E8, 1784},  // STATUS_INVALID_USER_BUFFER
    {0xC0000011, 38},    // STATUS_END_OF_FILE → ERROR_HANDLE_EOF  // STATUS_INTERNAL_ERROR
    {0xC0000103, 267},   // STATUS_NOT_A_DIRECTORY → ERROR_DIRECTORY
    {0xC0000120, 995},   // STATUS_CANCELLED → ERROR_OPERATION_ABORTED
    {0xC0000121, 5},     // STATUS_CANNOT_DELETE → ERROR_ACCESS_DENIED
    {0xC0000135, 126},   // STATUS_DLL_NOT_FOUND → ERROR_MOD_NOT_FOUND
    {0xC0000184, 22},    // STATUS_INVALID_DEVICE_STATE → ERROR_BAD_COMMAND
    {0xC0000185, 1117},  // STATUS_IO_DEVICE_ERROR
    {0xC0000206, 1784},  // STATUS_INVALID_BUFFER_SIZE → ERROR_INVALID_USER_BUFFER
    {0xC0000263, 127},   // STATUS_DRIVER_ENTRYPOINT_NOT_FOUND
    {0xC0000428, 577},   // STATUS_INVALID_IMAGE_HASH → ERROR_INVALID_IMAGE_HASH
    {0xC00000BE, 53},    // STATUS_BAD_NETWORK_PATH
    {0xC0000102, 1392},  // STATUS_FILE_CORRUPT_ERROR
}};

constexpr std::array<std::pair<std::uint32_t, std::string_view>, 41> kMessages{{
    {0, "The operation completed successfully."},
    {1, "Incorrect function."},
    {2, "The system cannot find the file specified."},
    {3, "The system cannot find the path specified."},
    {5, "Access is denied."},
    {6, "The handle is invalid."},
    {8, "Not enough memory resources are available to process this command."},
    {22, "The device does not recognize the command."},
    {24, "The program issued a command but the command length is incorrect."},
    {31, "A device attached to the system is not functioning."},
    {32, "The process cannot access the file because it is being used by another process."},
    {38, "Reached the end of the file."},
    {50, "The request is not supported."},
    {87, "The parameter is incorrect."},
    {122, "The data area passed to a system call is too small."},
    {123, "The filename, directory name, or volume label syntax is incorrect."},
    {126, "The specified module could not be found."},
    {127, "The specified procedure could not be found."},
    {183, "Cannot create a file when that file already exists."},
    {193, "%1 is not a valid Win32 application."},
    {234, "More data is available."},
    {317,
     "The system cannot find message text for message number 0x%1 in the message file for %2."},
    {577,
     "Windows cannot verify the digital signature for this file. A recent hardware or software change might "
     "have installed a file that is signed incorrectly or damaged, or that might be malicious software from "
     "an unknown source."},
    {995, "The I/O operation has been aborted because of either a thread exit or an application request."},
    {997, "Overlapped I/O operation is in progress."},
    {998, "Invalid access to memory location."},
    {1052, "The requested control is not valid for this service."},
    {1056, "An instance of the service is already running."},
    {1058,
     "The service cannot be started, either because it is disabled or because it has no enabled devices "
     "associated with it."},
    {1060, "The specified service does not exist as an installed service."},
    {1061, "The service cannot accept control messages at this time."},
    {1062, "The service has not been started."},
    {1072, "The specified service has been marked for deletion."},
    {1073, "The specified service already exists."},
    {1077, "No attempts to start the service have been made since the last boot."},
    {1117, "The request could not be performed because of an I/O device error."},
    {1275, "This driver has been blocked from loading"},
    {1359, "An internal error occurred."},
    {1450, "Insufficient system resources exist to complete the requested service."},
    {1460, "This operation returned because the timeout period expired."},
    {1784, "The supplied user buffer is not valid for the requested operation."},
}};

}  // namespace

ULONG NTAPI RtlNtStatusToDosError(NTSTATUS Status) {
  const auto s = static_cast<std::uint32_t>(Status);
  if (s == 0) return 0;
  if ((s & 0xFFFF0000u) == 0xC0070000u || (s & 0xFFFF0000u) == 0x80070000u) return s & 0xFFFF;  // Win32 facility
  for (const auto& [status, error] : kStatusToWin32) {
    if (status == s) return error;
  }
  if (s >= 0xC00000EF && s <= 0xC00000FA) return 87;  // STATUS_INVALID_PARAMETER_1 … _12
  return ERROR_MR_MID_NOT_FOUND;
}

std::string_view Win32ErrorMessage(std::uint32_t code) {
  for (const auto& [c, text] : kMessages) {
    if (c == code) return text;
  }
  return {};
}

}  // namespace ntbox::nt
