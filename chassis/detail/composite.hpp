#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/message.hpp>

#include "runtime/component.hpp"

namespace kam::chassis::detail {

/// `(child_signal_atom, msg)`: a child's `signal`, linked into its composite
/// (graphline's `self.signal`, seq's and carousel's children).
using child_signal_atom = caf::atom_constant<caf::atom("kam_csig")>;

/// `(composite_done_atom)`: sent to itself by a composite whose children
/// have all ended, so it ends after what is already in its mailbox (see
/// finish_later()).
using composite_done_atom = caf::atom_constant<caf::atom("kam_cdone")>;

/// The common core of pipeline, graphline, seq and carousel: a component
/// whose boxes lead into and out of children it owns.
///
/// - Into children: a message on one of the composite's inboxes goes to every
///   child inbox routed from it (route_in), or out of one of its own outboxes
///   (route_self). Bytes on `inbox` and Kamaelia's Ipc messages on `control`
///   take a fast path; other payloads are routed by the default handler.
///   A subclass whose routes are fixed for its whole life (graph_composite)
///   also overrides component::resolve_inbox()/resolve_outbox(), so links
///   made to it skip it; what those read must be set in the constructor:
///   start() runs only on the first resumption, after spawn has returned and
///   possibly on another thread.
/// - Out of children: a link requested on the composite's outbox `out`
///   (`link(composite, out, dest, in)`, e.g. by the chassis) is re-targeted:
///   the composite asks every child that feeds `out` (delegate_out) to link
///   its own box straight to `dest`. Data never passes through the composite
///   on the way out. Links are remembered, so a child adopted later (seq,
///   carousel) gets them too, and unlink requests are passed on one by one
///   (a child's internal links are never touched).
/// - Lifetime: every child is CAF-linked to the composite. A child that
///   fails makes the composite fail with the same reason (and so every other
///   child, and a CSA linked to the composite); a composite that is killed
///   or fails takes its children with it; a composite that ends while
///   children still run (it should not) kills them in on_exit().
///
/// Every member function runs on this actor only.
class composite : public runtime::component {
public:
  using super = runtime::component;

  explicit composite(caf::actor_config& cfg);

  const char* name() const override { return "kam.composite"; }

  caf::behavior make_behavior() final;

  void on_exit() override;

  /// The component's report plus children, routes into them and the
  /// outboxes its children feed (their links name the real destinations).
  void describe(runtime::component_report& r) const override;

  /// Whether inbox `in` is the composite's (routed, or claimed by a subclass).
  bool claims(runtime::box in) const;

  /// Routes `payload`, which arrived on inbox `in`.
  void receive_on(runtime::box in, caf::message payload);

protected:
  /// Adopts the children and sets up routes; called once, from make_behavior().
  virtual void start() = 0;

  /// A child ended normally; it is already forgotten (no routes, not in
  /// children()).
  virtual void child_ended(const caf::actor& child) = 0;

  /// `control` got one of Kamaelia's Ipc messages (or another payload).
  /// Default: deliver it along the routes of `control`.
  virtual void on_control(caf::message payload);

  /// A copy of `payload`, sent on a link to this composite's inbox `in`
  /// that resolves past it to a child (see watches_control()). Default: nop.
  virtual void on_watched(runtime::box in, const caf::message& payload);

  /// Ends this composite once the messages already in its mailbox have been
  /// handled (a link request on its own outbox, sent before the input that
  /// made its children end, can then still be applied): on_done() runs then.
  void finish_later();

  /// See finish_later(). Default: quit().
  virtual void on_done();

  /// A child's signal arrived (a box linked to `child_signal_atom`).
  virtual void on_child_signal(const caf::actor& child, const caf::message& payload);

  /// `payload` arrived on inbox `in`, which has no route. Default: drop.
  virtual void unrouted(runtime::box in, caf::message payload);

  /// An inbox of the subclass's own (carousel's `next`); true if handled.
  virtual bool on_own_inbox(runtime::box in, caf::message& payload);

  /// Whether `in` is an inbox the subclass handles in on_own_inbox().
  virtual bool owns_inbox(runtime::box in) const;

  /// A link was requested on outbox `out`, which no child feeds yet. A
  /// subclass may call delegate_out() here; the link is replayed to it.
  virtual void unsourced_link(runtime::box out);

  /// CAF-links `child` to this composite and counts it as running.
  void adopt(const caf::actor& child);

  /// Counts `child` as running; it is already CAF-linked (spawned `linked`).
  void track(const caf::actor& child);

  const std::vector<caf::actor>& children() const { return children_; }

  /// Messages on inbox `in` go to `child`'s inbox `child_in`.
  void route_in(runtime::box in, caf::actor child, runtime::box child_in);

  /// Sends `payload` along every route from inbox `in`; false if none.
  bool forward_routes(runtime::box in, const caf::message& payload);

  /// Messages on inbox `in` leave on this composite's outbox `out`
  /// (forwarded: the one case where data passes through the composite).
  void route_self(runtime::box in, runtime::box out);

  /// Whether inbox `in` leads anywhere.
  bool routed(runtime::box in) const;

  /// Whether any route leads into `child`.
  bool routed_to(const caf::actor& child) const;

  /// Forgets every route into and out of `child`.
  void unroute(const caf::actor& child);

  /// Outbox `out` of this composite is fed by `child`'s outbox `child_out`.
  /// With `replay`, links already requested on `out` are made on the child;
  /// without, the caller pre-installed them (see links_on()).
  void delegate_out(runtime::box out, caf::actor child, runtime::box child_out,
                    bool replay = true);

  /// Whether a child feeds outbox `out`.
  bool sourced(runtime::box out) const;

  struct out_link {
    runtime::box out;
    caf::actor dest;
    runtime::box in;
  };

  /// Every link requested on this composite's outboxes, in request order.
  const std::vector<out_link>& out_links() const { return out_links_; }

  /// Sends `payload` on this composite's own outbox `out` (its own links).
  void emit(runtime::box out, const caf::message& payload);

  /// Spawns a child from a component body, linked (CAF) to this composite
  /// and with `links` plus `signal -> (this, child_signal)` installed before
  /// the body runs, so the body may send at once. Returns the child.
  caf::actor spawn_child(std::function<caf::behavior(runtime::component*)> body,
                         std::vector<out_link> links);

  /// Seq's and carousel's child: spawn_child() with every link requested
  /// on this composite's outboxes except `signal`; `inbox` and `control`
  /// route to it and it feeds those outboxes (and `outbox`, `serversig`).
  caf::actor start_current(std::function<caf::behavior(runtime::component*)> body);

private:
  struct in_route {
    runtime::box in;
    caf::actor child; // empty: to this composite's own outbox `child_in`
    runtime::box child_in;
  };

  struct out_source {
    runtime::box out;
    caf::actor child;
    runtime::box child_out;
  };

  void request_link(runtime::box out, caf::actor dest, runtime::box in);
  void request_unlink(runtime::box out);
  void request_unlink(runtime::box out, const caf::actor& dest, runtime::box in);
  void unlink_sources(const out_link& l);
  void deliver_bytes(runtime::box in, runtime::bytes&& data);
  void on_exit_msg(caf::exit_msg& em);
  caf::actor sender_child() const;

  std::vector<caf::actor> children_;
  std::vector<in_route> in_routes_;
  std::vector<out_source> out_sources_;
  std::vector<out_link> out_links_;
};

} // namespace kam::chassis::detail
