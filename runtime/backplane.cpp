#include "runtime/backplane.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

#include <caf/all.hpp>

#include "runtime/component.hpp"

namespace kam::runtime {

namespace {

// CAF 0.17's registry has no put-if-absent: this makes "look up, then put"
// one step, so two backplanes racing for one name cannot both win. Held
// only for the registry calls, never while an actor runs.
std::mutex registry_mtx;

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 10 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == ' ';
         });
}

caf::error bad_name(const std::string& name) {
  return caf::make_error(caf::sec::invalid_argument,
                         "backplane name '" + name +
                           "' is not 1..10 characters of [A-Za-z0-9_ ]");
}

/// The hub. A class (not only a behavior) so a lookup can tell a backplane
/// from another actor registered under the same atom.
class backplane_actor : public component {
public:
  backplane_actor(caf::actor_config& cfg, caf::atom_value key)
    : component(cfg), key_(key) {
    set_down_handler([this](caf::down_msg& dm) {
      subs_.erase(std::remove_if(subs_.begin(), subs_.end(),
                                 [&](const sub& s) { return s.who == dm.source; }),
                  subs_.end());
    });
  }

  const char* name() const override { return "kam.backplane"; }

  caf::behavior make_behavior() override {
    return {
      [this](bp_sub_atom, const caf::actor& who, caf::actor_id skip) {
        if (!who)
          return;
        monitor(who);
        subs_.push_back(sub{who, skip});
      },
      [this](bp_pub_atom, caf::actor_id origin, const caf::message& payload) {
        // One message for every subscriber: they share the payload.
        auto msg = caf::make_message(bp_msg_atom::value, payload);
        for (auto& s : subs_)
          if (s.skip != origin)
            send(s.who, msg);
      },
      [this](bp_count_atom) { return subs_.size(); },
    };
  }

  void on_exit() override {
    {
      std::lock_guard<std::mutex> guard{registry_mtx};
      auto& reg = home_system().registry();
      if (reg.get(key_) == caf::actor_cast<caf::strong_actor_ptr>(this))
        reg.erase(key_);
    }
    subs_.clear();
    component::on_exit();
  }

private:
  struct sub {
    caf::actor who;
    caf::actor_id skip;
  };

  caf::atom_value key_;
  std::vector<sub> subs_;
};

/// The registered backplane `name`, or an error saying why not.
caf::expected<caf::actor> find_backplane(caf::actor_system& sys,
                                         const std::string& name) {
  if (!valid_name(name))
    return bad_name(name);
  caf::strong_actor_ptr ptr;
  {
    std::lock_guard<std::mutex> guard{registry_mtx};
    ptr = sys.registry().get(caf::atom_from_string(name));
  }
  if (ptr == nullptr || dynamic_cast<backplane_actor*>(ptr->get()) == nullptr)
    return caf::make_error(caf::sec::runtime_error,
                           "no backplane '" + name + "' (not made, or ended)");
  return caf::actor_cast<caf::actor>(ptr);
}

/// Fails a publisher or subscriber when its backplane ends.
void watch(component* self, const caf::actor& bp, const std::string& name) {
  self->monitor(bp);
  self->set_down_handler([self, addr = bp.address(), name](caf::down_msg& dm) {
    if (dm.source == addr)
      self->quit(
        caf::make_error(caf::sec::runtime_error, "backplane '" + name + "' ended"));
  });
}

class publisher_actor : public component {
public:
  publisher_actor(caf::actor_config& cfg, caf::actor bp, std::string name)
    : component(cfg), bp_(std::move(bp)), name_(std::move(name)) {
    // Anything on `inbox` is published; the rest (links, control) is the
    // component's.
    set_default_handler([](caf::scheduled_actor* ptr, caf::message_view& x) {
      auto self = static_cast<publisher_actor*>(ptr);
      if (x.content().size() >= 1 && x.content().match_element<box>(0) &&
          x.content().get_as<box>(0) == inbox) {
        auto msg = x.move_content_to_message();
        self->send(self->bp_, bp_pub_atom::value, self->id(), msg.drop(1));
        return caf::result<caf::message>{caf::message{}};
      }
      return self->on_unmatched(x);
    });
  }

  const char* name() const override { return "kam.publish_to"; }

  caf::behavior make_behavior() override {
    watch(this, bp_, name_);
    // The behavior takes nothing of its own: the default handler publishes.
    return {[](bp_count_atom) {}};
  }

  void on_exit() override {
    bp_ = nullptr;
    component::on_exit();
  }

private:
  caf::actor bp_;
  std::string name_;
};

caf::behavior subscriber_fn(component* self, caf::actor bp, std::string name) {
  watch(self, bp, name);
  return {
    [self](bp_msg_atom, const caf::message& payload) {
      self->send_message_on(outbox, payload);
    },
  };
}

} // namespace

caf::expected<caf::actor> backplane(caf::actor_system& sys, const std::string& name) {
  if (!valid_name(name))
    return bad_name(name);
  auto key = caf::atom_from_string(name);
  std::lock_guard<std::mutex> guard{registry_mtx};
  if (sys.registry().get(key) != nullptr)
    return caf::make_error(caf::sec::invalid_argument,
                           "backplane '" + name + "' exists already");
  auto bp = sys.spawn<backplane_actor>(key);
  sys.registry().put(key, bp);
  return bp;
}

caf::expected<caf::actor> publish_to(caf::actor_system& sys, const std::string& name) {
  auto bp = find_backplane(sys, name);
  if (!bp)
    return bp.error();
  return sys.spawn<publisher_actor>(std::move(*bp), name);
}

caf::expected<caf::actor> subscribe_to(caf::actor_system& sys, const std::string& name,
                                       caf::actor_id skip_origin) {
  auto bp = find_backplane(sys, name);
  if (!bp)
    return bp.error();
  auto sub = sys.spawn(subscriber_fn, *bp, name);
  caf::anon_send(*bp, bp_sub_atom::value, sub, skip_origin);
  return sub;
}

} // namespace kam::runtime
