#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace kam::runtime {

/// Builds Prometheus's text exposition format, version 0.0.4 (what
/// `/metrics` serves with `Content-Type: text/plain; version=0.0.4`): one
/// `# HELP` and `# TYPE` per family, then its samples; help text and label
/// values escaped. Names are checked (`[a-zA-Z_:][a-zA-Z0-9_:]*`): a bad one
/// is a programming error and throws std::invalid_argument.
///
/// Thread rule: one owner; build a fresh one per scrape.
class exposition {
public:
  using labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  /// Starts a family; its samples follow. `type`: "counter" or "gauge".
  exposition& family(std::string_view name, std::string_view type, std::string_view help);

  /// A sample of the current family (`name` may add a suffix, e.g. _total).
  exposition& sample(std::string_view name, double value, labels ls = {});
  exposition& sample(std::string_view name, uint64_t value, labels ls = {});

  /// Shorthands: a family with one unlabeled sample of the same name.
  exposition& counter(std::string_view name, std::string_view help, uint64_t value);
  exposition& gauge(std::string_view name, std::string_view help, double value);

  const std::string& str() const { return out_; }

  /// The HTTP Content-Type of this format.
  static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

private:
  void write_name_and_labels(std::string_view name, labels ls);

  std::string out_;
};

} // namespace kam::runtime
