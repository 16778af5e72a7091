// fdpass: the native half of netcon's socket handoff (intercept/RPC.md).
// Unix socketpairs, a SOCK_SEQPACKET control listener, sendmsg/recvmsg with SCM_RIGHTS,
// non-blocking reads and writes on raw fds, and a libuv poll watcher so the JS side is woken
// by the kernel (no polling loops). Every call returns a value >= 0 or -errno; nothing throws
// for I/O errors.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <vector>

#include "registry.h"

namespace {

constexpr int kMaxFds = 8;

int ArgInt(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// Buffer (or Uint8Array) view: pointer and length.
bool View(const Napi::Value& v, uint8_t** p, size_t* len) {
  if (!v.IsTypedArray()) return false;
  auto a = v.As<Napi::Uint8Array>();
  *p = a.Data();
  *len = a.ByteLength();
  return true;
}

Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int type = ArgInt(info, 0);  // SOCK_STREAM or SOCK_SEQPACKET
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) return Napi::Number::New(env, -errno);
  // Both ends keep the blocking default, which the app's end needs: every call here on the service's end
  // passes MSG_DONTWAIT (as it must for an end the app made and sent: RPC.md, SOCKET), so it needs no fcntl.
  auto arr = Napi::Array::New(env, 2);
  arr.Set(0u, Napi::Number::New(env, sv[0]));
  arr.Set(1u, Napi::Number::New(env, sv[1]));
  return arr;
}

// listenSeqpacket(path, backlog): a SOCK_SEQPACKET listener with mode 0600. A stale socket file
// (nobody accepting) is replaced; a live one gives -EADDRINUSE.
Napi::Value ListenSeqpacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int backlog = ArgInt(info, 1);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path)) return Napi::Number::New(env, -ENAMETOOLONG);
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Napi::Number::New(env, -EEXIST);
    int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
      int r = connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
      close(probe);
      if (r == 0) return Napi::Number::New(env, -EADDRINUSE);
    }
    unlink(path.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  mode_t old = umask(0177);
  int r = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  int e = errno;
  umask(old);
  if (r < 0 || chmod(path.c_str(), 0600) < 0 || listen(fd, backlog) < 0) {
    if (r == 0) e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  int fd = accept4(ArgInt(info, 0), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : fd);
}

// recvmsg(fd, buf) → bytes (>= 0) or -errno; received fds are appended to the array info[2].
Napi::Value Recvmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0);
  uint8_t* p;
  size_t len;
  if (!View(info[1], &p, &len)) return Napi::Number::New(env, -EINVAL);
  iovec iov{p, len};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof(cbuf);
  ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return Napi::Number::New(env, -errno);
  auto out = info[2].As<Napi::Array>();
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int fds[kMaxFds];
    memcpy(fds, CMSG_DATA(c), k * sizeof(int));
    for (size_t i = 0; i < k; i++) out.Set(out.Length(), Napi::Number::New(env, fds[i]));
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// sendmsg(fd, buf, fds[]) → bytes or -errno. Non-blocking.
Napi::Value Sendmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0);
  uint8_t* p;
  size_t len;
  if (!View(info[1], &p, &len)) return Napi::Number::New(env, -EINVAL);
  iovec iov{p, len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (info.Length() > 2 && info[2].IsArray()) {
    auto arr = info[2].As<Napi::Array>();
    uint32_t k = arr.Length();
    if (k > kMaxFds) return Napi::Number::New(env, -EINVAL);
    if (k > 0) {
      int fds[kMaxFds];
      for (uint32_t i = 0; i < k; i++) fds[i] = arr.Get(i).As<Napi::Number>().Int32Value();
      mh.msg_control = cbuf;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * k);
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * k);
      memcpy(CMSG_DATA(c), fds, sizeof(int) * k);
    }
  }
  ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// read(fd, buf, off, len) → bytes (0 = EOF) or -errno.
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  size_t len;
  if (!View(info[1], &p, &len)) return Napi::Number::New(env, -EINVAL);
  size_t off = ArgInt(info, 2), n = ArgInt(info, 3);
  if (off > len || n > len - off) return Napi::Number::New(env, -EINVAL);
  ssize_t r = recv(ArgInt(info, 0), p + off, n, MSG_DONTWAIT);
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

// write(fd, buf, off, len) → bytes or -errno.
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  size_t len;
  if (!View(info[1], &p, &len)) return Napi::Number::New(env, -EINVAL);
  size_t off = ArgInt(info, 2), n = ArgInt(info, 3);
  if (off > len || n > len - off) return Napi::Number::New(env, -EINVAL);
  ssize_t r = send(ArgInt(info, 0), p + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

// writev(fd, [bufs…]) → bytes or -errno: one syscall for a queue of chunks.
Napi::Value Writev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto arr = info[1].As<Napi::Array>();
  uint32_t k = arr.Length();
  if (k > 64) k = 64;
  iovec iov[64];
  for (uint32_t i = 0; i < k; i++) {
    uint8_t* p;
    size_t len;
    if (!View(arr.Get(i), &p, &len)) return Napi::Number::New(env, -EINVAL);
    iov[i] = {p, len};
  }
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = k;
  ssize_t r = sendmsg(ArgInt(info, 0), &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), close(ArgInt(info, 0)) < 0 ? -errno : 0);
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), shutdown(ArgInt(info, 0), ArgInt(info, 1)) < 0 ? -errno : 0);
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  int r = fcntl(ArgInt(info, 0), F_DUPFD_CLOEXEC, 3);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : r);
}

// inode(fd) → the socket's inode number (its identity across processes), or -errno.
Napi::Value Inode(const Napi::CallbackInfo& info) {
  struct stat st;
  if (fstat(ArgInt(info, 0), &st) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), static_cast<double>(st.st_ino));
}

Napi::Value SetSockOptInt(const Napi::CallbackInfo& info) {
  int v = ArgInt(info, 3);
  int r = setsockopt(ArgInt(info, 0), ArgInt(info, 1), ArgInt(info, 2), &v, sizeof(v));
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

Napi::Value GetSockOptInt(const Napi::CallbackInfo& info) {
  int v = 0;
  socklen_t l = sizeof(v);
  int r = getsockopt(ArgInt(info, 0), ArgInt(info, 1), ArgInt(info, 2), &v, &l);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : v);
}

// pollNow(fd, events) → revents (POLLIN 1, POLLOUT 4, POLLERR 8, POLLHUP 16) without waiting.
Napi::Value PollNow(const Napi::CallbackInfo& info) {
  pollfd p{ArgInt(info, 0), static_cast<short>(ArgInt(info, 1)), 0};
  int r = poll(&p, 1, 0);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : p.revents);
}

// SO_PEERCRED pid of a connected Unix socket.
Napi::Value PeerPid(const Napi::CallbackInfo& info) {
  ucred c{};
  socklen_t l = sizeof(c);
  if (getsockopt(ArgInt(info, 0), SOL_SOCKET, SO_PEERCRED, &c, &l) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), c.pid);
}

// The poll set: one epoll instance for every fd the JS side watches (native/poller.ts), itself watched by
// one uv_poll_t. Registering an fd is one epoll_ctl, with no libuv handle, JS object or async context per
// fd, and a wake-up hands JS every ready fd in one call (one callback scope, one microtask checkpoint).
// Level-triggered, as uv_poll is. Events: 1 readable, 2 writable, 4 peer hang-up (EPOLLRDHUP); a hang-up
// or error (EPOLLHUP, EPOLLERR) reports all three and JS keeps those the fd was registered for; 8 marks
// EPOLLHUP itself (both directions shut), whatever was registered.
struct PollSet {
  int epfd = -1;
  uv_poll_t* handle = nullptr;
  int registered = 0;  // the loop is kept alive while any fd is registered
  Napi::FunctionReference cb;
  Napi::Reference<Napi::Int32Array> out;  // [token, events] pairs, filled before cb(n)
  Napi::ObjectReference resource;
  napi_async_context ctx = nullptr;
  napi_env env = nullptr;
};

// One set per JS thread (the main thread, each worker): an environment lives on one thread.
thread_local PollSet* tls_set = nullptr;

void OnPollSet(uv_poll_t* h, int, int) {
  auto* ps = static_cast<PollSet*>(h->data);
  if (!ps) return;
  epoll_event evs[256];
  int n;
  do n = epoll_wait(ps->epfd, evs, 256, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  // Raw N-API from here: while a worker (or the process) is being torn down JS cannot run any more, and
  // the call must fail quietly instead of throwing from a libuv callback.
  napi_env env = ps->env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return;
  Napi::Int32Array out = ps->out.Value();
  int32_t* o = out.Data();
  if (static_cast<size_t>(n) * 2 > out.ElementLength()) n = static_cast<int>(out.ElementLength() / 2);
  for (int i = 0; i < n; i++) {
    uint32_t e = evs[i].events;
    int ev = 0;
    if (e & EPOLLIN) ev |= 1;
    if (e & EPOLLOUT) ev |= 2;
    if (e & EPOLLRDHUP) ev |= 4;
    if (e & (EPOLLHUP | EPOLLERR)) ev |= 7;
    if (e & EPOLLHUP) ev |= 8;  // both directions are shut: for a socketpair, the peer has closed it
    o[2 * i] = static_cast<int32_t>(evs[i].data.u32);
    o[2 * i + 1] = ev;
  }
  napi_callback_scope cs = nullptr;
  if (napi_open_callback_scope(env, ps->resource.Value(), ps->ctx, &cs) == napi_ok) {
    napi_value argv[1], undef, ret;
    napi_create_int32(env, n, &argv[0]);
    napi_get_undefined(env, &undef);
    if (napi_call_function(env, undef, ps->cb.Value(), 1, argv, &ret) == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
    napi_close_callback_scope(env, cs);
  }
  napi_close_handle_scope(env, hs);
}

// pollSetInit(cb, out: Int32Array) → 0 or -errno. Once per thread (a second call replaces nothing: -EEXIST).
Napi::Value PollSetInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (tls_set) return Napi::Number::New(env, -EEXIST);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return Napi::Number::New(env, -errno);
  auto* ps = new PollSet();
  ps->epfd = epfd;
  ps->env = env;
  ps->cb = Napi::Persistent(info[0].As<Napi::Function>());
  ps->out = Napi::Persistent(info[1].As<Napi::Int32Array>());
  Napi::Object resource = Napi::Object::New(env);
  ps->resource = Napi::Persistent(resource);
  napi_async_init(env, resource, Napi::String::New(env, "netcon.fdpass.poll"), &ps->ctx);
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  ps->handle = new uv_poll_t;
  ps->handle->data = ps;
  int r = uv_poll_init(loop, ps->handle, epfd);
  if (r == 0) r = uv_poll_start(ps->handle, UV_READABLE, OnPollSet);
  if (r != 0) {
    close(epfd);
    delete ps->handle;
    ps->handle = nullptr;
    delete ps;
    return Napi::Number::New(env, r);
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(ps->handle));
  tls_set = ps;
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        // the environment is going away (process exit, a worker's end): release the epoll fd and handle
        auto* p = static_cast<PollSet*>(arg);
        if (tls_set == p) tls_set = nullptr;
        if (p->ctx) napi_async_destroy(p->env, p->ctx);
        uv_poll_stop(p->handle);
        p->handle->data = nullptr;
        // No close callback: Node unloads the addon when the last worker that loaded it ends, before libuv
        // finishes closing, so a callback here would run unmapped code. The handle (a few dozen bytes, once
        // per thread) is left to the process.
        uv_close(reinterpret_cast<uv_handle_t*>(p->handle), nullptr);
        close(p->epfd);
        p->cb.Reset();
        p->out.Reset();
        p->resource.Reset();
        delete p;
      },
      ps);
  return Napi::Number::New(env, 0);
}

// pollSetCtl(op, fd, token, events) → 0 or -errno. op: 1 add, 2 remove, 3 change the events.
Napi::Value PollSetCtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PollSet* ps = tls_set;
  if (!ps) return Napi::Number::New(env, -EBADF);
  int op = ArgInt(info, 0), fd = ArgInt(info, 1), ev = ArgInt(info, 3);
  // 4: the fd leaves the set by its close (an fd nobody else holds): no epoll_ctl, but no longer counted
  if (op == 4) {
    if (ps->registered > 0 && --ps->registered == 0) uv_unref(reinterpret_cast<uv_handle_t*>(ps->handle));
    return Napi::Number::New(env, 0);
  }
  epoll_event e{};
  e.data.u32 = info[2].As<Napi::Number>().Uint32Value();
  if (ev & 1) e.events |= EPOLLIN;
  if (ev & 2) e.events |= EPOLLOUT;
  if (ev & 4) e.events |= EPOLLRDHUP;
  int eop = op == 1 ? EPOLL_CTL_ADD : op == 2 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(ps->epfd, eop, fd, &e) < 0) {
    // removing an fd already closed (the kernel dropped it then) still counts as removed
    if (op == 2 && (errno == EBADF || errno == ENOENT)) {
      if (--ps->registered == 0) uv_unref(reinterpret_cast<uv_handle_t*>(ps->handle));
    }
    return Napi::Number::New(env, -errno);
  }
  if (op == 1 && ps->registered++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(ps->handle));
  if (op == 2 && --ps->registered == 0) uv_unref(reinterpret_cast<uv_handle_t*>(ps->handle));
  return Napi::Number::New(env, 0);
}

netcon::Registrar reg("fdpass", [](Napi::Env env, Napi::Object exports) {
  exports.Set("socketpair", Napi::Function::New(env, Socketpair));
  exports.Set("listenSeqpacket", Napi::Function::New(env, ListenSeqpacket));
  exports.Set("accept", Napi::Function::New(env, Accept));
  exports.Set("recvmsg", Napi::Function::New(env, Recvmsg));
  exports.Set("sendmsg", Napi::Function::New(env, Sendmsg));
  exports.Set("read", Napi::Function::New(env, Read));
  exports.Set("write", Napi::Function::New(env, Write));
  exports.Set("writev", Napi::Function::New(env, Writev));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown));
  exports.Set("dup", Napi::Function::New(env, Dup));
  exports.Set("inode", Napi::Function::New(env, Inode));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetSockOptInt));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetSockOptInt));
  exports.Set("pollNow", Napi::Function::New(env, PollNow));
  exports.Set("peerPid", Napi::Function::New(env, PeerPid));
  exports.Set("pollSetInit", Napi::Function::New(env, PollSetInit));
  exports.Set("pollSetCtl", Napi::Function::New(env, PollSetCtl));
  exports.Set("SOCK_STREAM", Napi::Number::New(env, SOCK_STREAM));
  exports.Set("SOCK_SEQPACKET", Napi::Number::New(env, SOCK_SEQPACKET));
});

}  // namespace
