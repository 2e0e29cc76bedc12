#include "runtime/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace kam::runtime {

namespace {

bool valid_name(std::string_view n, bool label) {
  if (n.empty())
    return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (!label && c == ':');
    if (!(alpha || (i > 0 && c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

void check(std::string_view n, bool label = false) {
  if (!valid_name(n, label))
    throw std::invalid_argument("not a Prometheus name: '" + std::string{n} + "'");
}

/// HELP escapes backslash and newline; label values also the double quote.
void escape(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

} // namespace

exposition& exposition::family(std::string_view name, std::string_view type,
                               std::string_view help) {
  check(name);
  if (type != "counter" && type != "gauge")
    throw std::invalid_argument("unsupported metric type: '" + std::string{type} + "'");
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  escape(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
  return *this;
}

void exposition::write_name_and_labels(std::string_view name, labels ls) {
  check(name);
  out_ += name;
  if (ls.size() == 0)
    return;
  out_ += '{';
  bool first = true;
  for (auto& [k, v] : ls) {
    check(k, true);
    if (!first)
      out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    escape(out_, v, true);
    out_ += '"';
  }
  out_ += '}';
}

exposition& exposition::sample(std::string_view name, double value, labels ls) {
  write_name_and_labels(name, ls);
  out_ += ' ';
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", value);
    out_ += buf;
  }
  out_ += '\n';
  return *this;
}

exposition& exposition::sample(std::string_view name, uint64_t value, labels ls) {
  write_name_and_labels(name, ls);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
  return *this;
}

exposition& exposition::counter(std::string_view name, std::string_view help,
                                uint64_t value) {
  return family(name, "counter", help).sample(name, value);
}

exposition& exposition::gauge(std::string_view name, std::string_view help,
                              double value) {
  return family(name, "gauge", help).sample(name, value);
}

} // namespace kam::runtime
