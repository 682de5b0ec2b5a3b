// The instrumentation manifest as a small element tree, read with expat.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/Result.h"

namespace ntbox::mc {

struct Element {
  std::string name;  // the local name (a namespace prefix dropped)
  std::map<std::string, std::string> attributes;
  std::vector<std::unique_ptr<Element>> children;
  int line = 0;

  const Element* Child(const std::string& n) const;
  std::vector<const Element*> Children(const std::string& n) const;
  const std::string* Attribute(const std::string& n) const;
};

Result<std::unique_ptr<Element>> ParseXml(const std::string& text);

}  // namespace ntbox::mc
