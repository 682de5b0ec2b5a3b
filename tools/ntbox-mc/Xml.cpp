#include "tools/ntbox-mc/Xml.h"

#include <expat.h>
#include <fmt/format.h>

namespace ntbox::mc {

const Element* Element::Child(const std::string& n) const {
  for (const auto& c : children) {
    if (c->name == n) return c.get();
  }
  return nullptr;
}

std::vector<const Element*> Element::Children(const std::string& n) const {
  std::vector<const Element*> out;
  for (const auto& c : children) {
    if (c->name == n) out.push_back(c.get());
  }
  return out;
}

const std::string* Element::Attribute(const std::string& n) const {
  const auto it = attributes.find(n);
  return it == attributes.end() ? nullptr : &it->second;
}

namespace {

struct Builder {
  XML_Parser parser;
  std::unique_ptr<Element> root;
  std::vector<Element*> open;
};

std::string LocalName(const char* name) {
  const std::string n(name);
  const auto colon = n.rfind(':');
  return colon == std::string::npos ? n : n.substr(colon + 1);
}

void Start(void* data, const XML_Char* name, const XML_Char** attributes) {
  auto* b = static_cast<Builder*>(data);
  auto e = std::make_unique<Element>();
  e->name = LocalName(name);
  e->line = static_cast<int>(XML_GetCurrentLineNumber(b->parser));
  for (int i = 0; attributes[i]; i += 2) e->attributes[attributes[i]] = attributes[i + 1];
  Element* raw = e.get();
  if (b->open.empty()) {
    b->root = std::move(e);
  } else {
    b->open.back()->children.push_back(std::move(e));
  }
  b->open.push_back(raw);
}

void End(void* data, const XML_Char*) { static_cast<Builder*>(data)->open.pop_back(); }

}  // namespace

Result<std::unique_ptr<Element>> ParseXml(const std::string& text) {
  Builder b{XML_ParserCreate(nullptr), nullptr, {}};
  if (!b.parser) return Fail("out of memory");
  XML_SetUserData(b.parser, &b);
  XML_SetElementHandler(b.parser, Start, End);
  const bool ok = XML_Parse(b.parser, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_OK;
  std::string error;
  if (!ok) {
    error = fmt::format("line {}: {}", XML_GetCurrentLineNumber(b.parser), XML_ErrorString(XML_GetErrorCode(b.parser)));
  }
  XML_ParserFree(b.parser);
  if (!ok) return Fail(error);
  if (!b.root) return Fail("the document is empty");
  return std::move(b.root);
}

}  // namespace ntbox::mc
