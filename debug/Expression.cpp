#include "debug/Expression.h"

#include <cctype>
#include <string>

#include <fmt/format.h>

#include "debug/Symbols.h"

namespace ntbox::debug {
namespace {

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '!' || c == '`' || c == '$' || c == '.' ||
         c == '@' || c == ':' || c == '?' || c == '<' || c == '>' || c == '~';
}

std::optional<std::uint64_t> ParseNumber(std::string_view word) {
  std::string digits;
  for (char c : word) {
    if (c != '`') digits += c;
  }
  int radix = 16;
  std::string_view body = digits;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    body.remove_prefix(2);
  } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'n' || body[1] == 'N')) {
    body.remove_prefix(2);
    radix = 10;
  } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'y' || body[1] == 'Y')) {
    body.remove_prefix(2);
    radix = 2;
  } else if (body.size() > 1 && (body.back() == 'h' || body.back() == 'H')) {
    body.remove_suffix(1);
  }
  if (body.empty() || body.size() > 64) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : body) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    if (d >= radix) return std::nullopt;
    value = value * static_cast<std::uint64_t>(radix) + static_cast<std::uint64_t>(d);
  }
  return value;
}

class Parser {
 public:
  Parser(std::string_view text, const EvaluationContext& context) : text_(text), context_(context) {}

  Result<std::uint64_t> Parse() {
    auto value = Sum();
    if (!value) return value;
    Skip();
    if (pos_ < text_.size()) return SyntaxError();
    return value;
  }

 private:
  void Skip() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::unexpected<Error> SyntaxError() {
    return Fail(fmt::format("Syntax error at '{}'", text_.substr(std::min(pos_, text_.size()))));
  }

  Result<std::uint64_t> Sum() {
    auto left = Product();
    if (!left) return left;
    for (;;) {
      Skip();
      if (pos_ >= text_.size() || (text_[pos_] != '+' && text_[pos_] != '-')) return left;
      const char op = text_[pos_++];
      auto right = Product();
      if (!right) return right;
      *left = op == '+' ? *left + *right : *left - *right;
    }
  }

  Result<std::uint64_t> Product() {
    auto left = Unary();
    if (!left) return left;
    for (;;) {
      Skip();
      if (pos_ >= text_.size() || (text_[pos_] != '*' && text_[pos_] != '/' && text_[pos_] != '%')) return left;
      const char op = text_[pos_++];
      auto right = Unary();
      if (!right) return right;
      if (op != '*' && *right == 0) return Fail("Divide by zero error at '" + std::string(text_.substr(pos_)) + "'");
      *left = op == '*' ? *left * *right : op == '/' ? *left / *right : *left % *right;
    }
  }

  Result<std::uint64_t> Unary() {
    Skip();
    if (pos_ < text_.size() && text_[pos_] == '-') {
      ++pos_;
      auto v = Unary();
      if (!v) return v;
      return 0 - *v;
    }
    if (pos_ < text_.size() && text_[pos_] == '+') {
      ++pos_;
      return Unary();
    }
    return Primary();
  }

  Result<std::uint64_t> Primary() {
    Skip();
    if (pos_ >= text_.size()) return SyntaxError();
    if (text_[pos_] == '(') {
      ++pos_;
      auto v = Sum();
      if (!v) return v;
      Skip();
      if (pos_ >= text_.size() || text_[pos_] != ')') return SyntaxError();
      ++pos_;
      return v;
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() && IsWordChar(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    if (word.empty()) return SyntaxError();
    Skip();
    if ((word == "poi" || word == "qwo") && pos_ < text_.size() && text_[pos_] == '(') {
      auto address = Primary();
      if (!address) return address;
      const auto value = context_.readPointer ? context_.readPointer(*address) : std::nullopt;
      if (!value) return Fail(fmt::format("Memory access error at '{}'", text_.substr(start)));
      return *value;
    }
    if (word.starts_with('@')) {
      if (auto r = context_.reg ? context_.reg(word.substr(1)) : std::nullopt) return *r;
      return Fail(fmt::format("Bad register error at '{}'", word));
    }
    if (word.find('!') == std::string_view::npos) {
      if (auto n = ParseNumber(word)) return *n;
      if (auto r = context_.reg ? context_.reg(word) : std::nullopt) return *r;
    }
    if (auto a = context_.symbols.Resolve(word)) return *a;
    return Fail(fmt::format("Couldn't resolve error at '{}'", text_.substr(start)));
  }

  std::string_view text_;
  const EvaluationContext& context_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<std::uint64_t> Evaluate(std::string_view text, const EvaluationContext& context) {
  return Parser(text, context).Parse();
}

}  // namespace ntbox::debug
