// limits: what the service needs to defend its own resources.
//   nofile(raise) → [soft, hard]   RLIMIT_NOFILE; with raise, the soft limit is raised to the hard one first
//                                  (Node has no setrlimit); -1 stands for unlimited
//   tcpPeerUid(clientIp, clientPort, serverIp, serverPort) → uid, or -errno
//       the owner of the client end of a local TCP connection, asked of the kernel with one exact
//       sock_diag (NETLINK_INET_DIAG) lookup: how the local API tells local users apart.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "registry.h"

namespace {

// raise: true to raise the soft limit to the hard one, false to only read both.
Napi::Value Nofile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) < 0) return Napi::Number::New(env, -errno);
  if (info[0].ToBoolean().Value() && r.rlim_cur < r.rlim_max) {
    rlimit want = r;
    want.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) r = want;
  }
  auto out = Napi::Array::New(env, 2);
  auto num = [&](rlim_t v) { return Napi::Number::New(env, v == RLIM_INFINITY ? -1.0 : static_cast<double>(v)); };
  out.Set(0u, num(r.rlim_cur));
  out.Set(1u, num(r.rlim_max));
  return out;
}

int diagFd = -1;

Napi::Value TcpPeerUid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string cip = info[0].As<Napi::String>().Utf8Value();
  int cport = info[1].As<Napi::Number>().Int32Value();
  std::string sip = info[2].As<Napi::String>().Utf8Value();
  int sport = info[3].As<Napi::Number>().Int32Value();
  if (cip.rfind("::ffff:", 0) == 0 && cip.find('.') != std::string::npos) cip = cip.substr(7);
  if (sip.rfind("::ffff:", 0) == 0 && sip.find('.') != std::string::npos) sip = sip.substr(7);

  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_sport = htons(static_cast<uint16_t>(cport));
  msg.req.id.idiag_dport = htons(static_cast<uint16_t>(sport));
  if (inet_pton(AF_INET, cip.c_str(), msg.req.id.idiag_src) == 1 &&
      inet_pton(AF_INET, sip.c_str(), msg.req.id.idiag_dst) == 1) {
    msg.req.sdiag_family = AF_INET;
  } else if (inet_pton(AF_INET6, cip.c_str(), msg.req.id.idiag_src) == 1 &&
             inet_pton(AF_INET6, sip.c_str(), msg.req.id.idiag_dst) == 1) {
    msg.req.sdiag_family = AF_INET6;
  } else {
    return Napi::Number::New(env, -EINVAL);
  }
  if (diagFd < 0) {
    diagFd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (diagFd < 0) return Napi::Number::New(env, -errno);
    timeval tv{0, 200000};  // never block the event loop for long
    setsockopt(diagFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  sockaddr_nl nl{};
  nl.nl_family = AF_NETLINK;
  if (sendto(diagFd, &msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&nl), sizeof(nl)) < 0)
    return Napi::Number::New(env, -errno);
  alignas(nlmsghdr) char buf[8192];
  ssize_t n = recv(diagFd, buf, sizeof(buf), 0);
  if (n < 0) {
    int e = errno;
    close(diagFd);  // a late answer must not be read as the next one's
    diagFd = -1;
    return Napi::Number::New(env, -e);
  }
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(h));
      return Napi::Number::New(env, err->error < 0 ? err->error : -ENOENT);
    }
    if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      auto* d = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
      return Napi::Number::New(env, static_cast<double>(d->idiag_uid));
    }
  }
  return Napi::Number::New(env, -ENOENT);
}

netcon::Registrar reg("limits", [](Napi::Env env, Napi::Object exports) {
  exports.Set("nofile", Napi::Function::New(env, Nofile, "nofile"));
  exports.Set("tcpPeerUid", Napi::Function::New(env, TcpPeerUid, "tcpPeerUid"));
});

}  // namespace
