// Driver signature enforcement as x64 Windows applies it at load: the image's Authenticode
// signature (PE certificate table, PKCS#7 SignedData over SpcIndirectDataContent) is checked with
// OpenSSL: the image digest, the signer's signature, and, unless test signing is on, a chain to
// one of the machine's trusted roots.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "pe/PeImage.h"
#include "support/Result.h"

namespace ntbox::machine {

enum class SignatureState {
  kUnsigned,   // no certificate table
  kInvalid,    // malformed signature, bad signer signature or digest mismatch (tampered)
  kUntrusted,  // valid, but no chain to a trusted root (a test signature)
  kTrusted,    // valid and chains to a trusted root
};

struct SignatureCheck {
  SignatureState state = SignatureState::kUnsigned;
  std::string signer;  // subject of the signing certificate, when there is one
  std::string detail;  // why it is invalid or untrusted
};

// trustedRoots: PEM files (*.pem, *.crt, *.cer) in that folder are the machine's roots.
SignatureCheck VerifyAuthenticode(const pe::PeImage& image, const std::filesystem::path& trustedRoots);

// The load decision, with Windows' error: 0 when the driver may load, else 1275 (blocked:
// no trusted signature while test signing is off) or 577 (signature cannot be verified).
std::uint32_t SignatureLoadError(const SignatureCheck& check, bool testSigning);

// Creates (once) a self-signed code-signing certificate and key under certsDir and returns
// {certificate PEM path, key PEM path}.
Result<std::pair<std::filesystem::path, std::filesystem::path>> EnsureTestCertificate(
    const std::filesystem::path& certsDir);

}  // namespace ntbox::machine
