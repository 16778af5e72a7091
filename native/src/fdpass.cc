// fdpass: the native half of netcon's socket handoff (intercept/RPC.md).
// Unix socketpairs, a SOCK_SEQPACKET control listener, sendmsg/recvmsg with SCM_RIGHTS,
// non-blocking reads and writes on raw fds, and a libuv poll watcher so the JS side is woken
// by the kernel (no polling loops). Every call returns a value >= 0 or -errno; nothing throws
// for I/O errors.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
  // The service's end (sv[1]) is non-blocking; the app's end keeps the blocking default.
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
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

// Poller: a uv_poll_t on an fd. start(events) with 1 = readable, 2 = writable, 4 = disconnect
// (peer hang-up); the callback gets (status, events). close() must be called before the fd is closed.
class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {InstanceMethod("start", &Poller::Start), InstanceMethod("stop", &Poller::Stop),
                        InstanceMethod("close", &Poller::Close)});
  }
  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    fd_ = ArgInt(info, 0);
    cb_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_loop_t* loop;
    napi_get_uv_event_loop(env, &loop);
    handle_ = new uv_poll_t;
    if (uv_poll_init(loop, handle_, fd_) != 0) {
      delete handle_;
      handle_ = nullptr;
      Napi::Error::New(env, "uv_poll_init failed").ThrowAsJavaScriptException();
      return;
    }
    handle_->data = this;
    env_ = env;
    Napi::Object resource = Napi::Object::New(env);
    resource_ = Napi::Persistent(resource);
    napi_async_init(env, resource, Napi::String::New(env, "netcon.fdpass.Poller"), &ctx_);
  }
  ~Poller() override {
    CloseHandle();
    if (ctx_) napi_async_destroy(env_, ctx_);
  }

 private:
  static void OnEvent(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<Poller*>(h->data);
    if (!self) return;
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    // Run inside a callback scope (the poller's own async context, made once) so microtasks (promise
    // continuations, the UDP flush) run afterwards. A context per event cost an object, a string and the
    // async hooks' bookkeeping on every packet.
    napi_callback_scope cs = nullptr;
    napi_open_callback_scope(env, self->resource_.Value(), self->ctx_, &cs);
    int ev = 0;
    if (events & UV_READABLE) ev |= 1;
    if (events & UV_WRITABLE) ev |= 2;
    if (events & UV_DISCONNECT) ev |= 4;
    self->cb_.Call({Napi::Number::New(env, status), Napi::Number::New(env, ev)});
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
    napi_close_callback_scope(env, cs);
  }
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!handle_) return info.Env().Undefined();
    int ev = ArgInt(info, 0), uvev = 0;
    if (ev & 1) uvev |= UV_READABLE;
    if (ev & 2) uvev |= UV_WRITABLE;
    if (ev & 4) uvev |= UV_DISCONNECT;
    if (uvev == 0) {
      uv_poll_stop(handle_);
      if (ref_) {
        ref_ = false;
        Unref();
      }
    } else {
      uv_poll_start(handle_, uvev, OnEvent);
      if (!ref_) {
        ref_ = true;
        Ref();  // keep the JS object alive while the kernel may call back
      }
    }
    return info.Env().Undefined();
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_) uv_poll_stop(handle_);
    if (ref_) {
      ref_ = false;
      Unref();
    }
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop(info);
    CloseHandle();
    return info.Env().Undefined();
  }
  void CloseHandle() {
    if (!handle_) return;
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }
  int fd_ = -1;
  bool ref_ = false;
  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference cb_;
  Napi::ObjectReference resource_;
  napi_async_context ctx_ = nullptr;
  Napi::Env env_ = nullptr;
};

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
  exports.Set("Poller", Poller::Define(env));
  exports.Set("SOCK_STREAM", Napi::Number::New(env, SOCK_STREAM));
  exports.Set("SOCK_SEQPACKET", Napi::Number::New(env, SOCK_SEQPACKET));
});

}  // namespace
