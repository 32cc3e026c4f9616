#include "actors/website_front.hpp"

#include <caf/all.hpp>

#include "iis/website.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace nomad_iis {
namespace {

/// The task sees the website's master as its front; its workers are the
/// website's, not the task's (no usage, no views of them).
msg::front_view website_view(website_front_ptr self) {
  msg::front_view view;
  view.master = self->state.master;
  return view;
}

void publish(website_front_ptr self) {
  if (auto owner = caf::actor_cast<caf::actor>(self->state.ctx.owner))
    self->send(owner, website_view(self));
}

/// Sends the task's routes to the website; `next(served or error)`.
template <class Next>
void send_routes(website_front_ptr self, Next next) {
  auto& st = self->state;
  self->request(st.websites, caf::infinite,
                msg::website_routes{st.ctx.plan->website, st.key, st.routes})
      .then(
          [self, next](msg::website_served& served) mutable {
            self->state.master = served.master;
            publish(self);
            next(std::move(served), caf::error{});
          },
          [next](caf::error& error) mutable { next(msg::website_served{}, std::move(error)); });
}

caf::result<msg::front_left> leave(website_front_ptr self) {
  auto rp = self->make_response_promise<msg::front_left>();
  auto& st = self->state;
  self->request(st.websites, caf::infinite, msg::website_leave{st.ctx.plan->website, st.key})
      .then(
          [self, rp](msg::website_served&) mutable {
            self->state.master = {};
            publish(self);
            rp.deliver(msg::front_left{});
          },
          [rp](caf::error& error) mutable { rp.deliver(std::move(error)); });
  return rp;
}

}  // namespace

caf::behavior website_front(website_front_ptr self, site_context ctx, caf::actor websites,
                            std::optional<iis::process_ref> recovered) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.websites = std::move(websites);
  st.key = iis::website_member_key(st.ctx.plan->site_name);
  st.routes.resize(st.ctx.plan->pools.size());
  for (std::size_t p = 0; p < st.routes.size(); ++p) st.routes[p].pool = p;
  if (recovered) st.master = *recovered;
  publish(self);
  return {
      [self](msg::front_start& m) -> caf::result<msg::front_view> {
        for (auto& routes : m.routes) keep_routes(self->state.routes, std::move(routes));
        auto rp = self->make_response_promise<msg::front_view>();
        send_routes(self, [self, rp](msg::website_served, caf::error error) mutable {
          if (error)
            rp.deliver(std::move(error));
          else
            rp.deliver(website_view(self));
        });
        return rp;
      },
      [self](msg::front_routes& m) { keep_routes(self->state.routes, std::move(m.routes)); },
      [self](msg::front_reload& m) -> caf::result<msg::front_reloaded> {
        keep_routes(self->state.routes, std::move(m.routes));
        auto rp = self->make_response_promise<msg::front_reloaded>();
        send_routes(self, [rp](msg::website_served served, caf::error error) mutable {
          if (error)
            rp.deliver(std::move(error));
          else
            rp.deliver(msg::front_reloaded{std::move(served.old_workers), {}});
        });
        return rp;
      },
      [self](msg::front_stop&) { return leave(self); },
      [self](msg::front_kill) { return leave(self); },
  };
}

}  // namespace nomad_iis
