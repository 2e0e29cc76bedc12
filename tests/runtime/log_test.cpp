// The logger: one timestamped line per event with its level, levels filter,
// floods are rate-limited per key and the suppressed count is reported.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "runtime/log.hpp"

namespace {

using namespace std::chrono_literals;
using kam::runtime::log_level;
using kam::runtime::logger;

/// What a logger wrote to a temporary file, as lines.
struct capture {
  std::FILE* f = std::tmpfile();
  ~capture() { std::fclose(f); }
  std::vector<std::string> lines() {
    std::fflush(f);
    std::rewind(f);
    std::vector<std::string> out;
    char buf[1024];
    while (std::fgets(buf, sizeof(buf), f))
      out.emplace_back(buf);
    return out;
  }
};

} // namespace

TEST_SUITE("runtime/log") {
  TEST_CASE("a line has an ISO timestamp, the level and the text, newlines flattened") {
    capture c;
    logger log{log_level::info, c.f};
    log.write(log_level::warning, "accept on 127.0.0.1:1601:\nToo many open files");
    auto ls = c.lines();
    REQUIRE(ls.size() == 1);
    auto& l = ls[0];
    // 2026-12-01T21:36:33.123Z: digits where digits go, separators in place.
    REQUIRE(l.size() > 25);
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22})
      CHECK_MESSAGE(std::isdigit(static_cast<unsigned char>(l[i])), l);
    CHECK(l.substr(4, 1) == "-");
    CHECK(l.substr(10, 1) == "T");
    CHECK(l.substr(19, 1) == ".");
    CHECK(l.substr(23) ==
          "Z warning kam: accept on 127.0.0.1:1601: Too many open files\n");
  }

  TEST_CASE("lines below the level are dropped") {
    capture c;
    logger log{log_level::warning, c.f};
    log.write(log_level::debug, "d");
    log.write(log_level::info, "i");
    log.write(log_level::warning, "w");
    log.write(log_level::error, "e");
    auto ls = c.lines();
    REQUIRE(ls.size() == 2);
    CHECK(ls[0].find(" warning kam: w") != std::string::npos);
    CHECK(ls[1].find(" error kam: e") != std::string::npos);
    CHECK_FALSE(log.enabled(log_level::info));
  }

  TEST_CASE(
    "a flood is limited per key and the suppressed count reported after the period") {
    capture c;
    logger log{log_level::info, c.f, 3, 200ms};
    for (int i = 0; i < 100; ++i)
      log.limited("accept", log_level::warning, "EMFILE " + std::to_string(i));
    log.limited("reset", log_level::info, "other key"); // its own budget
    CHECK(c.lines().size() == 4);                       // 3 + the other key
    std::this_thread::sleep_for(250ms);
    log.limited("accept", log_level::warning, "EMFILE again");
    auto ls = c.lines();
    REQUIRE(ls.size() == 5);
    CHECK_MESSAGE(ls[4].find("EMFILE again (97 similar lines suppressed)") !=
                    std::string::npos,
                  ls[4]);
  }

  TEST_CASE("level names parse both ways") {
    for (auto x :
         {log_level::error, log_level::warning, log_level::info, log_level::debug})
      CHECK(kam::runtime::parse_log_level(kam::runtime::to_string(x)) == x);
    CHECK_FALSE(kam::runtime::parse_log_level("verbose"));
    CHECK_FALSE(kam::runtime::parse_log_level(""));
  }

  TEST_CASE("lines from many threads never interleave") {
    capture c;
    logger log{log_level::info, c.f};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i)
          log.write(log_level::info, std::string(100, static_cast<char>('a' + t)));
      });
    for (auto& t : ts)
      t.join();
    auto ls = c.lines();
    REQUIRE(ls.size() == 800);
    for (auto& l : ls) {
      auto body = l.substr(l.find("kam: ") + 5);
      CHECK(body == std::string(100, body[0]) + "\n");
    }
  }
}
