#include "machine/Signing.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <memory>
#include <optional>

#include "machine/MachineDir.h"

namespace ntbox::machine {
namespace {

namespace fs = std::filesystem;

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using Pkcs7Ptr = std::unique_ptr<PKCS7, Deleter<PKCS7_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

constexpr std::uint16_t kWinCertRevision2 = 0x0200;
constexpr std::uint16_t kWinCertTypePkcsSignedData = 0x0002;
constexpr const char* kSpcIndirectDataOid = "1.3.6.1.4.1.311.2.1.4";

// A minimal DER reader: enough for SpcIndirectDataContent.
struct Der {
  const std::uint8_t* p;
  std::size_t n;

  struct Item {
    std::uint8_t tag;
    const std::uint8_t* header;  // start of tag
    const std::uint8_t* body;
    std::size_t length;
  };
  std::optional<Item> Next() {
    if (n < 2) return std::nullopt;
    Item item{p[0], p, nullptr, 0};
    std::size_t at = 1;
    std::size_t len = p[at++];
    if (len & 0x80) {
      const std::size_t bytes = len & 0x7F;
      if (bytes == 0 || bytes > 4 || at + bytes > n) return std::nullopt;
      len = 0;
      for (std::size_t i = 0; i < bytes; ++i) len = (len << 8) | p[at++];
    }
    if (len > n - at) return std::nullopt;
    item.body = p + at;
    item.length = len;
    p += at + len;
    n -= at + len;
    return item;
  }
};

struct IndirectData {
  const EVP_MD* digest = nullptr;
  std::vector<std::uint8_t> expected;
};

// SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
//   messageDigest DigestInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING } }
std::optional<IndirectData> ParseIndirectData(const std::uint8_t* body, std::size_t length) {
  Der content{body, length};
  auto attribute = content.Next();
  auto digestInfo = content.Next();
  if (!attribute || !digestInfo || digestInfo->tag != 0x30) return std::nullopt;
  Der info{digestInfo->body, digestInfo->length};
  auto algorithm = info.Next();
  auto digest = info.Next();
  if (!algorithm || !digest || algorithm->tag != 0x30 || digest->tag != 0x04) return std::nullopt;
  Der alg{algorithm->body, algorithm->length};
  auto oid = alg.Next();
  if (!oid || oid->tag != 0x06) return std::nullopt;
  const std::uint8_t* q = oid->header;
  ASN1_OBJECT* object = d2i_ASN1_OBJECT(nullptr, &q, static_cast<long>(oid->body + oid->length - oid->header));
  if (!object) return std::nullopt;
  IndirectData out;
  out.digest = EVP_get_digestbyobj(object);
  ASN1_OBJECT_free(object);
  if (!out.digest) return std::nullopt;
  out.expected.assign(digest->body, digest->body + digest->length);
  return out;
}

// The Authenticode digest: the file without the checksum field, the security directory entry
// and the certificate table itself.
std::vector<std::uint8_t> ImageDigest(const pe::PeImage& image, const EVP_MD* md, std::uint32_t certOffset) {
  const auto& file = image.file();
  const std::uint32_t lfanew = *reinterpret_cast<const std::uint32_t*>(file.data() + 0x3C);
  const std::size_t optional = lfanew + 4 + sizeof(pe::FileHeader);
  const std::size_t checksum = optional + offsetof(pe::OptionalHeader64, CheckSum);
  const std::size_t securityEntry =
      optional + offsetof(pe::OptionalHeader64, Directory) + pe::kDirSecurity * sizeof(pe::DataDirectory);
  const std::size_t end = certOffset ? certOffset : file.size();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), md, nullptr);
  EVP_DigestUpdate(ctx.get(), file.data(), checksum);
  EVP_DigestUpdate(ctx.get(), file.data() + checksum + 4, securityEntry - checksum - 4);
  EVP_DigestUpdate(ctx.get(), file.data() + securityEntry + 8, end - securityEntry - 8);
  std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx.get(), out.data(), &size);
  out.resize(size);
  return out;
}

std::string Subject(X509* cert) {
  char buffer[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buffer, sizeof(buffer));
  return buffer;
}

StorePtr LoadRoots(const fs::path& folder) {
  StorePtr store(X509_STORE_new());
  // Authenticode signers carry the code-signing usage, not S/MIME's.
  X509_STORE_set_purpose(store.get(), X509_PURPOSE_ANY);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const auto ext = entry.path().extension();
    if (ext != ".pem" && ext != ".crt" && ext != ".cer") continue;
    BioPtr bio(BIO_new_file(entry.path().c_str(), "r"));
    if (!bio) continue;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store.get(), cert);
      X509_free(cert);
    }
  }
  return store;
}

}  // namespace

SignatureCheck VerifyAuthenticode(const pe::PeImage& image, const fs::path& trustedRoots) {
  SignatureCheck check;
  const pe::DataDirectory security = image.directory(pe::kDirSecurity);
  if (security.VirtualAddress == 0 || security.Size == 0) return check;
  auto invalid = [&check](std::string why) {
    check.state = SignatureState::kInvalid;
    check.detail = std::move(why);
    return check;
  };
  const auto& file = image.file();
  if (security.VirtualAddress < image.sizeOfHeaders() || security.Size < 8 ||
      security.VirtualAddress > file.size() || security.Size > file.size() - security.VirtualAddress) {
    return invalid("the certificate table lies outside the file");
  }
  const std::uint8_t* cert = file.data() + security.VirtualAddress;
  std::uint32_t length;
  std::uint16_t revision, type;
  std::memcpy(&length, cert, 4);
  std::memcpy(&revision, cert + 4, 2);
  std::memcpy(&type, cert + 6, 2);
  if (length < 8 || length > security.Size || revision != kWinCertRevision2 || type != kWinCertTypePkcsSignedData) {
    return invalid("the certificate table holds no PKCS#7 signature");
  }
  const std::uint8_t* der = cert + 8;
  Pkcs7Ptr p7(d2i_PKCS7(nullptr, &der, length - 8));
  if (!p7 || !PKCS7_type_is_signed(p7.get()) || !p7->d.sign->contents) return invalid("malformed PKCS#7 signature");
  PKCS7* contents = p7->d.sign->contents;
  char oid[64];
  OBJ_obj2txt(oid, sizeof(oid), contents->type, 1);
  if (std::strcmp(oid, kSpcIndirectDataOid) != 0 || !contents->d.other ||
      contents->d.other->type != V_ASN1_SEQUENCE) {
    return invalid("the signature does not describe a PE image (no SpcIndirectDataContent)");
  }
  const ASN1_STRING* sequence = contents->d.other->value.sequence;
  Der outer{ASN1_STRING_get0_data(sequence), static_cast<std::size_t>(ASN1_STRING_length(sequence))};
  auto spc = outer.Next();
  if (!spc || spc->tag != 0x30) return invalid("malformed SpcIndirectDataContent");
  auto indirect = ParseIndirectData(spc->body, spc->length);
  if (!indirect) return invalid("malformed or unsupported image digest in the signature");

  // The signer's certificate belongs to p7; only the stack around it is ours.
  X509* signer = nullptr;
  STACK_OF(X509)* signers = PKCS7_get0_signers(p7.get(), nullptr, 0);
  if (signers && sk_X509_num(signers) > 0) signer = sk_X509_value(signers, 0);
  sk_X509_free(signers);
  if (signer) check.signer = Subject(signer);

  if (ImageDigest(image, indirect->digest, security.VirtualAddress) != indirect->expected) {
    return invalid("the image digest does not match its signature (the file was modified after signing)");
  }
  // The signed content is SpcIndirectDataContent without its own tag and length (Authenticode).
  BioPtr content(BIO_new_mem_buf(spc->body, static_cast<int>(spc->length)));
  StorePtr none(X509_STORE_new());
  if (PKCS7_verify(p7.get(), nullptr, none.get(), content.get(), nullptr, PKCS7_NOVERIFY | PKCS7_BINARY) != 1) {
    return invalid("the signer's signature does not verify");
  }
  // The signature is good; whether its signer chains to a trusted root is a separate question.
  StorePtr roots = LoadRoots(trustedRoots);
  std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>> chain(X509_STORE_CTX_new());
  if (signer && X509_STORE_CTX_init(chain.get(), roots.get(), signer, p7->d.sign->cert) == 1 &&
      X509_verify_cert(chain.get()) == 1) {
    check.state = SignatureState::kTrusted;
  } else {
    check.state = SignatureState::kUntrusted;
    check.detail = "the signing certificate does not chain to a trusted root";
  }
  return check;
}

std::uint32_t SignatureLoadError(const SignatureCheck& check, bool testSigning) {
  constexpr std::uint32_t kErrorDriverBlocked = 1275;
  constexpr std::uint32_t kErrorInvalidImageHash = 577;
  switch (check.state) {
    case SignatureState::kTrusted:
      return 0;
    case SignatureState::kInvalid:
      return kErrorInvalidImageHash;
    case SignatureState::kUntrusted:
      return testSigning ? 0 : kErrorDriverBlocked;
    case SignatureState::kUnsigned:
      return testSigning ? kErrorInvalidImageHash : kErrorDriverBlocked;
  }
  return kErrorDriverBlocked;
}

Result<std::pair<fs::path, fs::path>> EnsureTestCertificate(const fs::path& certsDir) {
  const fs::path certFile = certsDir / "testsign.crt";
  const fs::path keyFile = certsDir / "testsign.key";
  if (fs::exists(certFile) && fs::exists(keyFile)) return std::pair{certFile, keyFile};
  std::error_code ec;
  fs::create_directories(certsDir, ec);

  PkeyPtr key(EVP_RSA_gen(2048));
  X509Ptr cert(X509_new());
  if (!key || !cert) return Fail("cannot create a test certificate: OpenSSL failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ntbox Test Signing Certificate"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_ext_key_usage, "codeSigning"},
                            std::pair{NID_key_usage, "digitalSignature"},
                            std::pair{NID_basic_constraints, "CA:FALSE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext) {
      X509_add_ext(cert.get(), ext, -1);
      X509_EXTENSION_free(ext);
    }
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Fail("cannot sign the test certificate");

  BioPtr certOut(BIO_new(BIO_s_mem()));
  BioPtr keyOut(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(certOut.get(), cert.get());
  PEM_write_bio_PrivateKey(keyOut.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  auto text = [](BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  if (auto r = WriteFileAtomically(keyFile, text(keyOut.get())); !r) return std::unexpected(r.error());
  fs::permissions(keyFile, fs::perms::owner_read | fs::perms::owner_write, ec);
  if (auto r = WriteFileAtomically(certFile, text(certOut.get())); !r) return std::unexpected(r.error());
  return std::pair{certFile, keyFile};
}

}  // namespace ntbox::machine
