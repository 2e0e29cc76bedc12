#include "runtime/node.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "runtime/backplane.hpp"

namespace kam::runtime {

namespace {

// The node protocol. Every message between nodes is made of CAF's built-in
// types (atoms, strings, integers, string vectors, messages), so both sides
// can read it without add_message_type; the payload inside is the
// publisher's and must be serializable (see federate()).

/// `(node_hello_atom, addr, incarnation, members)` -> `(node_welcome_atom,
/// addr, incarnation, members)`: a dialer introduces itself.
using node_hello_atom = caf::atom_constant<caf::atom("kam_nhello")>;
using node_welcome_atom = caf::atom_constant<caf::atom("kam_nwelc")>;
/// `(node_members_atom, members)`: the members a peer knows (itself and its
/// peers that are up), sent to every peer when one comes up.
using node_members_atom = caf::atom_constant<caf::atom("kam_nmemb")>;
/// `(node_pub_atom, name, origin incarnation, sequence, payload)`: one
/// publication, from the node it was made on to one peer.
using node_pub_atom = caf::atom_constant<caf::atom("kam_npub")>;
/// Local only: `(node_start_atom, own address)`, `(node_dial_atom, key,
/// epoch)`, `(node_forget_atom, key, epoch)`, `(node_peers_atom)`.
using node_start_atom = caf::atom_constant<caf::atom("kam_nstart")>;
using node_dial_atom = caf::atom_constant<caf::atom("kam_ndial")>;
using node_forget_atom = caf::atom_constant<caf::atom("kam_nforg")>;
using node_peers_atom = caf::atom_constant<caf::atom("kam_npeers")>;

uint64_t new_incarnation() {
  std::random_device rd;
  std::mt19937_64 gen{
    (uint64_t{rd()} << 32) ^ rd() ^
    static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  uint64_t x = 0;
  while (x == 0)
    x = gen();
  return x;
}

/// One node of the mesh per process: knows its peers, dials, introduces,
/// forwards this node's publications once to every peer and routes theirs
/// to the local backplanes. Runs on CAF's scheduler.
class node_actor : public caf::event_based_actor {
public:
  node_actor(caf::actor_config& cfg, node_options opts, std::shared_ptr<node_counters> st)
    : caf::event_based_actor(cfg), opts_(std::move(opts)), stats_(std::move(st)),
      incarnation_(new_incarnation()) {
    // No print_and_drop: an error reply to a remote sender can kill it
    // (CAF #1111). What this actor does not know it drops silently.
    set_default_handler([](caf::scheduled_actor*, caf::message_view&) {
      return caf::result<caf::message>{caf::message{}};
    });
    set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
  }

  const char* name() const override { return "kam.node"; }

  caf::behavior make_behavior() override {
    mm_ = home_system().middleman().actor_handle();
    return {
      [this](node_start_atom, const std::string& self_addr) {
        self_ = self_addr;
        for (auto& target : opts_.join) {
          if (target == self_)
            continue; // a full member list on every node names this one too
          auto& p = peers_[target];
          p.target = target;
          p.join = true;
          dial(target);
        }
      },
      [this](node_dial_atom, const std::string& key, uint64_t epoch) {
        auto i = peers_.find(key);
        if (i != peers_.end() && i->second.epoch == epoch && !i->second.up())
          dial(key);
      },
      [this](node_forget_atom, const std::string& key, uint64_t epoch) {
        auto i = peers_.find(key);
        if (i == peers_.end() || i->second.join || i->second.up() ||
            i->second.down_epoch != epoch)
          return;
        event("peer " + key + " forgotten (not up for " +
              std::to_string(opts_.forget_after.count() / 1000) + " s)");
        peers_.erase(i);
      },
      [this](node_hello_atom, const std::string& addr, uint64_t inc,
             const std::vector<std::string>& members) -> caf::result<caf::message> {
        if (inc == incarnation_ || addr == self_ || addr.empty()) {
          stats_->refused.fetch_add(1, std::memory_order_relaxed);
          return caf::make_error(caf::sec::invalid_argument,
                                 "node address " + addr + " is this node's own");
        }
        auto who = caf::actor_cast<caf::actor>(current_sender());
        auto& p = peers_[addr];
        if (p.target.empty())
          p.target = addr;
        on_up(addr, who, inc);
        learn(members);
        return caf::make_message(node_welcome_atom::value, self_, incarnation_,
                                 members_list());
      },
      [this](node_members_atom, const std::vector<std::string>& members) {
        learn(members);
      },
      [this](bp_node_atom, caf::atom_value name, const caf::actor& root) {
        // A backplane federates through this node.
        roots_[name] = root;
        monitor(root);
      },
      [this](bp_out_atom, caf::atom_value name, const caf::message& payload) {
        // Published on this node: once to every peer that is up.
        ++seq_;
        auto msg =
          caf::make_message(node_pub_atom::value, name, incarnation_, seq_, payload);
        uint64_t sent = 0;
        uint64_t dropped = 0;
        for (auto& kv : peers_) {
          if (kv.second.up()) {
            send(kv.second.handle, msg);
            ++sent;
          } else {
            ++dropped;
          }
        }
        stats_->sent.fetch_add(sent, std::memory_order_relaxed);
        stats_->dropped.fetch_add(dropped, std::memory_order_relaxed);
      },
      [this](node_pub_atom, caf::atom_value name, uint64_t origin, uint64_t seq,
             const caf::message& payload) {
        // From a peer: deliver here only. Sequence numbers of one origin only
        // grow, so nothing is delivered twice, and what was lost shows as a gap.
        auto& last = last_seq_[origin];
        if (seq <= last)
          return;
        if (last != 0 && seq > last + 1)
          stats_->gaps.fetch_add(seq - last - 1, std::memory_order_relaxed);
        last = seq;
        auto r = roots_.find(name);
        if (r == roots_.end()) {
          stats_->unrouted.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        stats_->received.fetch_add(1, std::memory_order_relaxed);
        send(r->second, bp_remote_atom::value, payload);
      },
      [this](node_peers_atom) {
        std::vector<std::string> up;
        for (auto& kv : peers_)
          if (kv.second.up())
            up.push_back(kv.first);
        return up;
      },
    };
  }

  void on_exit() override {
    peers_.clear();
    roots_.clear();
    mm_ = nullptr;
    stats_->peers.store(0, std::memory_order_relaxed);
  }

private:
  struct peer {
    std::string target; ///< what to dial: as given in --join, or as learned
    caf::actor handle;  ///< its node actor; null while not up
    uint64_t incarnation = 0;
    bool join = false; ///< named in --join: dialed until it answers, always
    bool retry_logged = false;
    uint64_t epoch = 0;      ///< of the current dial; stale answers are ignored
    uint64_t down_epoch = 0; ///< of the current stretch of not being up
    std::chrono::milliseconds backoff{0};
    bool up() const { return static_cast<bool>(handle); }
  };

  void event(const std::string& line) {
    if (opts_.on_event) {
      opts_.on_event(line);
    } else {
      std::fprintf(stderr, "node: %s\n", line.c_str());
      std::fflush(stderr);
    }
  }

  /// Itself and the peers that are up.
  std::vector<std::string> members_list() const {
    std::vector<std::string> xs{self_};
    for (auto& kv : peers_)
      if (kv.second.up())
        xs.push_back(kv.first);
    return xs;
  }

  /// Members told by a peer: the ones new here are added; this node dials
  /// those of higher address, the others dial it.
  void learn(const std::vector<std::string>& members) {
    for (auto& m : members) {
      if (m == self_ || m.empty() || peers_.count(m) != 0)
        continue;
      std::string host;
      uint16_t port = 0;
      std::string why;
      if (!parse_node_address(m, host, port, why)) {
        stats_->refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto& p = peers_[m];
      p.target = m;
      if (self_ < m)
        dial(m);
      else
        start_down_stretch(m, p); // forgotten unless it dials in
    }
  }

  void dial(const std::string& key) {
    auto& p = peers_[key];
    std::string host;
    uint16_t port = 0;
    std::string why;
    if (!parse_node_address(p.target, host, port, why)) {
      event("peer " + p.target + " not dialed: " + why);
      return;
    }
    auto epoch = ++p.epoch;
    auto timeout = opts_.welcome_timeout;
    request(mm_, timeout, caf::connect_atom::value, host, port)
      .then(
        [this, key, epoch, timeout](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                    const std::set<std::string>&) {
          if (!current(key, epoch))
            return;
          auto remote = caf::actor_cast<caf::actor>(ptr);
          if (!remote) {
            retry_later(key, peers_[key]); // no node published there
            return;
          }
          request(remote, timeout, node_hello_atom::value, self_, incarnation_,
                  members_list())
            .then(
              [this, key, epoch, remote](node_welcome_atom, const std::string& addr,
                                         uint64_t inc,
                                         const std::vector<std::string>& members) {
                if (!current(key, epoch))
                  return;
                if (inc == incarnation_ || addr == self_) {
                  stats_->refused.fetch_add(1, std::memory_order_relaxed);
                  event("peer " + key + " is this node itself: not dialed again");
                  peers_.erase(key);
                  return;
                }
                auto k = rekey(key, addr);
                on_up(k, remote, inc);
                learn(members);
              },
              [this, key, epoch](const caf::error&) {
                if (current(key, epoch))
                  retry_later(key, peers_[key]);
              });
        },
        [this, key, epoch](const caf::error&) {
          if (current(key, epoch))
            retry_later(key, peers_[key]);
        });
  }

  /// True if `key`'s dial `epoch` is the one in progress.
  bool current(const std::string& key, uint64_t epoch) {
    auto i = peers_.find(key);
    return i != peers_.end() && i->second.epoch == epoch && !i->second.up();
  }

  /// A join target answered as `addr`: its entry from now on has that key.
  std::string rekey(const std::string& key, const std::string& addr) {
    if (key == addr)
      return key;
    auto old = std::move(peers_[key]);
    peers_.erase(key);
    auto& p = peers_[addr];
    p.join = p.join || old.join;
    p.target = old.target;
    p.epoch = std::max(p.epoch, old.epoch);
    p.retry_logged = old.retry_logged;
    return addr;
  }

  void on_up(const std::string& key, const caf::actor& who, uint64_t inc) {
    auto& p = peers_[key];
    if (p.up()) {
      if (p.handle == who && p.incarnation == inc)
        return; // both dialed: the second introduction changes nothing
      // A restarted process at the same address: the old one is gone.
      demonitor(p.handle);
      stats_->peers.fetch_sub(1, std::memory_order_relaxed);
      event("peer " + key + " down (restarted)");
    }
    p.handle = who;
    p.incarnation = inc;
    p.backoff = std::chrono::milliseconds{0};
    p.retry_logged = false;
    ++p.down_epoch;
    monitor(who);
    stats_->peers.fetch_add(1, std::memory_order_relaxed);
    event("peer " + key + " up");
    // Tell the others of it (and it of them: it got members_list already).
    auto msg = caf::make_message(node_members_atom::value, members_list());
    for (auto& kv : peers_)
      if (kv.second.up() && kv.first != key)
        send(kv.second.handle, msg);
  }

  void on_down(caf::down_msg& dm) {
    for (auto& kv : peers_) {
      auto& p = kv.second;
      if (!p.up() || p.handle.address() != dm.source)
        continue;
      p.handle = nullptr;
      stats_->peers.fetch_sub(1, std::memory_order_relaxed);
      auto why = home_system().render(dm.reason); // exit_reason(remote_link_unreachable)
      if (why.rfind("exit_reason(", 0) == 0 && why.back() == ')')
        why = why.substr(12, why.size() - 13);
      event("peer " + kv.first + " down (" + why + ")");
      auto key = kv.first;
      start_down_stretch(key, p);
      if (p.join || self_ < key) {
        retry_later(key, p);
      }
      return;
    }
    for (auto i = roots_.begin(); i != roots_.end(); ++i)
      if (i->second.address() == dm.source) {
        roots_.erase(i);
        return;
      }
  }

  void start_down_stretch(const std::string& key, peer& p) {
    auto epoch = ++p.down_epoch;
    if (!p.join)
      delayed_send(this, opts_.forget_after, node_forget_atom::value, key, epoch);
  }

  void retry_later(const std::string& key, peer& p) {
    if (!p.retry_logged) {
      p.retry_logged = true;
      event("peer " + key + " retrying");
    }
    p.backoff =
      p.backoff.count() == 0 ? opts_.retry_min : std::min(p.backoff * 2, opts_.retry_max);
    delayed_send(this, p.backoff, node_dial_atom::value, key, p.epoch);
  }

  node_options opts_;
  std::shared_ptr<node_counters> stats_;
  uint64_t incarnation_;
  std::string self_;
  caf::io::middleman_actor mm_;
  std::map<std::string, peer> peers_;
  std::map<caf::atom_value, caf::actor> roots_;
  std::unordered_map<uint64_t, uint64_t> last_seq_; ///< per origin incarnation
  uint64_t seq_ = 0;
};

} // namespace

std::string node_address(const std::string& host, uint16_t port) {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

bool parse_node_address(const std::string& text, std::string& host, uint16_t& port,
                        std::string& why) {
  auto not_address = [&] { return "'" + text + "' is not HOST:PORT or [V6]:PORT"; };
  std::string h;
  std::string p;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      why = not_address();
      return false;
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || text.find(':') != colon) {
      why = not_address();
      return false;
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5 ||
      !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    why = not_address();
    return false;
  }
  auto n = std::stoul(p);
  if (n < 1 || n > 65535) {
    why = "port in '" + text + "' is out of range (1..65535)";
    return false;
  }
  host = h;
  port = static_cast<uint16_t>(n);
  return true;
}

void use_node(caf::actor_system_config& cfg, const std::string& cookie) {
  cfg.load<caf::io::middleman>();
  using namespace std::chrono_literals;
  auto hb = caf::get_if<caf::timespan>(&cfg, "middleman.heartbeat-interval");
  if (!hb || hb->count() == 0)
    cfg.set("middleman.heartbeat-interval", caf::timespan{500ms});
  auto ct = caf::get_if<caf::timespan>(&cfg, "middleman.connection-timeout");
  if (!ct || ct->count() == 0)
    cfg.set("middleman.connection-timeout", caf::timespan{3s});
  cfg.set("middleman.app-identifiers",
          std::vector<std::string>{"kamaelia-caf:" + cookie});
}

caf::expected<node> start_node(caf::actor_system& sys, const node_options& opts) {
  for (auto& j : opts.join) {
    std::string h;
    uint16_t p = 0;
    std::string why;
    if (!parse_node_address(j, h, p, why))
      return caf::make_error(caf::sec::invalid_argument, "--join: " + why);
  }
  auto stats = std::make_shared<node_counters>();
  auto a = sys.spawn<node_actor>(opts, stats);
  auto port = sys.middleman().publish(a, opts.port, opts.host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    return caf::make_error(caf::sec::cannot_open_port,
                           "cannot open node port " + node_address(opts.host, opts.port) +
                             ": " + sys.render(port.error()));
  }
  node n{a, node_address(opts.host, *port), *port, stats};
  caf::anon_send(a, node_start_atom::value, n.address);
  return n;
}

void federate(const node& n, const caf::actor& bp) {
  caf::anon_send(bp, bp_node_atom::value, n.actor);
}

std::vector<std::string> node_peers(caf::actor_system& sys, const node& n,
                                    std::chrono::milliseconds timeout) {
  std::vector<std::string> out;
  caf::scoped_actor self{sys};
  self->request(n.actor, timeout, node_peers_atom::value)
    .receive([&](std::vector<std::string>& xs) { out = std::move(xs); },
             [](caf::error&) {});
  return out;
}

} // namespace kam::runtime
