#include "protocols/chat/handler.hpp"

#include <stdexcept>

#include <caf/actor_system.hpp>

#include "chassis/graphline.hpp"
#include "protocols/lines/framer.hpp"
#include "protocols/lines/joiner.hpp"
#include "runtime/backplane.hpp"

namespace kam::protocols::chat {

using namespace runtime;

namespace {

caf::actor or_throw(caf::actor_system& sys, caf::expected<caf::actor> x) {
  if (!x) {
    auto& ctx = x.error().context();
    throw std::runtime_error(ctx.match_elements<std::string>()
                               ? ctx.get_as<std::string>(0)
                               : sys.render(x.error()));
  }
  return std::move(*x);
}

} // namespace

caf::actor handler(caf::actor_system& sys, const chat_options& opts) {
  auto pub = or_throw(sys, publish_to(sys, opts.backplane));
  caf::actor sub;
  try {
    sub = or_throw(sys, subscribe_to(sys, opts.backplane, pub.id()));
  } catch (...) {
    caf::anon_send_exit(pub, caf::exit_reason::user_shutdown);
    throw;
  }
  // The framer sends each read's lines as one block (line_block): the
  // subscribers' joiners append it with one copy, not one per line.
  caf::actor framer, joiner;
  if (opts.stats) {
    // Aliasing pointers: each counter keeps the whole block alive.
    framer =
      sys.spawn(lines::block_framer, opts.max_line,
                std::shared_ptr<sharded_counter>{opts.stats, &opts.stats->dropped});
    joiner =
      sys.spawn(lines::counting_coalescing_joiner,
                std::shared_ptr<sharded_counter>{opts.stats, &opts.stats->delivered});
  } else {
    framer = sys.spawn(lines::block_framer, opts.max_line, nullptr);
    joiner = sys.spawn(lines::coalescing_joiner);
  }
  return chassis::graphline(sys,
                            {{"framer", std::move(framer)},
                             {"pub", std::move(pub)},
                             {"sub", std::move(sub)},
                             {"joiner", std::move(joiner)}},
                            {{{"self", inbox}, {"framer", inbox}},
                             {{"framer", outbox}, {"pub", inbox}},
                             {{"framer", signal}, {"pub", control}},
                             {{"pub", signal}, {"sub", control}},
                             {{"sub", outbox}, {"joiner", inbox}},
                             {{"sub", signal}, {"joiner", control}},
                             {{"joiner", outbox}, {"self", outbox}}});
}

} // namespace kam::protocols::chat
