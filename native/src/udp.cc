// udp: batched UDP for the VL1 node's edge (service/daemon/udp-host.ts). A non-blocking socket per family,
// sendmmsg for every datagram queued in one event-loop turn and recvmmsg for everything the kernel holds,
// so a 2800-byte frame (two datagrams) no longer costs two syscalls and two JS callbacks per side.
// Readiness comes from the poll set (native/poller.ts). Every call returns a value >= 0 or -errno.
//
//   udpOpen(family 4|6, ip bytes (4|16), port, rcvbuf, sndbuf) → fd
//   udpLocalPort(fd) → port
//   udpSendBatch(fd, family, data, meta Int32Array, addrs, count, stats Int32Array, gso 0|1)
//       → datagrams that could not be sent
//       meta per datagram: [offset in data, length, port, ttl (-1: default)]; addrs: 16 bytes per datagram;
//       stats: [messages handed to the kernel (added to), 1 if the kernel refused segmentation]
//   udpRecvBatch(fd, family, data, slot, meta Int32Array, addrs, max) → messages read (0: none waiting)
//       message i is at data[i * slot], meta per message: [length, port, truncated 0|1, segment size]; a
//       message with a segment size (UDP GRO) is that many equal datagrams (the last may be shorter) from one
//       sender; 0: one datagram. addrs as above
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "registry.h"

namespace {

constexpr unsigned kBatch = 64;

int ArgInt(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

bool Bytes(const Napi::Value& v, uint8_t** p, size_t* len) {
  if (!v.IsTypedArray()) return false;
  auto a = v.As<Napi::TypedArray>();
  auto ab = a.ArrayBuffer();
  *p = static_cast<uint8_t*>(ab.Data()) + a.ByteOffset();
  *len = a.ByteLength();
  return true;
}

socklen_t Fill(int family, const uint8_t* ip, int port, sockaddr_storage* ss) {
  memset(ss, 0, sizeof(*ss));
  if (family == 4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(port));
    memcpy(&sa->sin_addr, ip, 4);
    return sizeof(sockaddr_in);
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(ss);
  sa->sin6_family = AF_INET6;
  sa->sin6_port = htons(static_cast<uint16_t>(port));
  memcpy(&sa->sin6_addr, ip, 16);
  return sizeof(sockaddr_in6);
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = ArgInt(info, 0);
  uint8_t* ip;
  size_t iplen;
  if ((family != 4 && family != 6) || !Bytes(info[1], &ip, &iplen) || iplen != (family == 4 ? 4u : 16u))
    return Napi::Number::New(env, -EINVAL);
  int port = ArgInt(info, 2), rcv = ArgInt(info, 3), snd = ArgInt(info, 4);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  int one = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (rcv > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  if (snd > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
  // Runs of equal datagrams may arrive as one (UDP GRO, Linux 5.0): udpRecvBatch says their segment size.
  // Without it (an older kernel) every datagram arrives alone, which the caller handles the same way.
  setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
  sockaddr_storage ss;
  socklen_t sl = Fill(family, ip, port, &ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value LocalPort(const Napi::CallbackInfo& info) {
  sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(ArgInt(info, 0), reinterpret_cast<sockaddr*>(&ss), &sl) < 0)
    return Napi::Number::New(info.Env(), -errno);
  int port = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                     : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return Napi::Number::New(info.Env(), port);
}

// A datagram with its own TTL (the NAT "junk" packet): one sendto between two setsockopts.
bool SendWithTtl(int fd, int family, const uint8_t* p, size_t len, const sockaddr_storage* ss, socklen_t sl,
                 int ttl) {
  int level = family == 4 ? IPPROTO_IP : IPPROTO_IPV6, opt = family == 4 ? IP_TTL : IPV6_UNICAST_HOPS;
  int def = family == 4 ? 64 : -1;
  setsockopt(fd, level, opt, &ttl, sizeof(ttl));
  bool ok = sendto(fd, p, len, 0, reinterpret_cast<const sockaddr*>(ss), sl) >= 0;
  setsockopt(fd, level, opt, &def, sizeof(def));
  return ok;
}

// Datagrams to one destination, of one length (the last may be shorter) and contiguous in data leave as one
// message with UDP_SEGMENT: the kernel carries them as one buffer through UDP and IP and cuts them at the
// device (UDP GSO, Linux 4.18). Both pieces of a fragmented frame are cut to one length (fragment.ts) for this.
constexpr unsigned kMaxSegments = 64;
constexpr size_t kMaxGsoBytes = 65000;

struct Out {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage sas[kBatch];
  alignas(cmsghdr) char ctl[kBatch][CMSG_SPACE(sizeof(uint16_t))];
  unsigned first[kBatch];  // the first datagram of each message
  unsigned segs[kBatch];   // datagrams in each message
  size_t seg[kBatch];      // their length (the last may be shorter)
};

void SetSegment(Out& o, unsigned n) {
  msghdr& h = o.msgs[n].msg_hdr;
  h.msg_control = o.ctl[n];
  h.msg_controllen = sizeof(o.ctl[n]);
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t size = static_cast<uint16_t>(o.seg[n]);
  memcpy(CMSG_DATA(c), &size, sizeof(size));
}

// udpSendBatch(fd, family, data, meta, addrs, count, stats Int32Array(2), gso 0|1) → datagrams not sent.
// stats: [0] messages handed to the kernel, [1] set to 1 when the kernel refused segmentation (the datagrams
// then went one by one; the caller stops asking for it).
Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0), family = ArgInt(info, 1);
  uint8_t *data, *metaBytes, *addrs, *statBytes;
  size_t dlen, mlen, alen, slen;
  if (!Bytes(info[2], &data, &dlen) || !Bytes(info[3], &metaBytes, &mlen) || !Bytes(info[4], &addrs, &alen) ||
      !Bytes(info[6], &statBytes, &slen) || slen < 8)
    return Napi::Number::New(env, -EINVAL);
  unsigned count = static_cast<unsigned>(ArgInt(info, 5));
  bool gso = ArgInt(info, 7) != 0;
  auto* meta = reinterpret_cast<const int32_t*>(metaBytes);
  auto* stats = reinterpret_cast<int32_t*>(statBytes);
  if (count * 16u > mlen || count * 16u > alen) return Napi::Number::New(env, -EINVAL);
  for (unsigned k = 0; k < count; k++) {
    const int32_t* m = meta + 4 * k;
    if (m[0] < 0 || m[1] < 0 || static_cast<size_t>(m[0]) + static_cast<size_t>(m[1]) > dlen)
      return Napi::Number::New(env, -EINVAL);
  }
  unsigned failed = 0, i = 0;
  static thread_local Out o;
  while (i < count) {
    // Gather up to kBatch messages with the default TTL; a datagram with its own TTL goes alone.
    unsigned n = 0, next = i;
    while (next < count && n < kBatch) {
      const int32_t* m = meta + 4 * next;
      size_t off = static_cast<size_t>(m[0]), len = static_cast<size_t>(m[1]);
      if (m[3] >= 0) {
        if (n > 0) break;
        sockaddr_storage ss;
        socklen_t sl = Fill(family, addrs + 16 * next, m[2], &ss);
        if (!SendWithTtl(fd, family, data + off, len, &ss, sl, m[3])) failed++;
        next++;
        i = next;
        continue;
      }
      if (gso && n > 0) {
        unsigned p = n - 1;
        iovec& v = o.iov[p];
        const int32_t* pm = meta + 4 * o.first[p];
        bool sameDest = pm[2] == m[2] && memcmp(addrs + 16 * o.first[p], addrs + 16 * next, 16) == 0;
        bool fits = len > 0 && len <= o.seg[p] && o.segs[p] < kMaxSegments && v.iov_len + len <= kMaxGsoBytes;
        bool lastWasFull = v.iov_len == o.seg[p] * o.segs[p];
        if (sameDest && fits && lastWasFull && static_cast<uint8_t*>(v.iov_base) + v.iov_len == data + off) {
          v.iov_len += len;
          o.segs[p]++;
          next++;
          continue;
        }
      }
      socklen_t sl = Fill(family, addrs + 16 * next, m[2], &o.sas[n]);
      o.iov[n] = {data + off, len};
      memset(&o.msgs[n], 0, sizeof(mmsghdr));
      o.msgs[n].msg_hdr.msg_name = &o.sas[n];
      o.msgs[n].msg_hdr.msg_namelen = sl;
      o.msgs[n].msg_hdr.msg_iov = &o.iov[n];
      o.msgs[n].msg_hdr.msg_iovlen = 1;
      o.first[n] = next;
      o.segs[n] = 1;
      o.seg[n] = len;
      n++;
      next++;
    }
    for (unsigned k = 0; k < n; k++)
      if (o.segs[k] > 1) SetSegment(o, k);
    stats[0] += static_cast<int32_t>(n);
    unsigned done = 0;
    while (done < n) {
      int r = sendmmsg(fd, o.msgs + done, n - done, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          // Socket buffer full: the rest of this batch is dropped (UDP may drop; the peers retransmit).
          for (unsigned k = done; k < n; k++) failed += o.segs[k];
          done = n;
          break;
        }
        int e = errno;
        unsigned k = done++;
        if (o.segs[k] > 1 && (e == EIO || e == EINVAL || e == EMSGSIZE)) {
          // Segmentation refused (no checksum offload, a path MTU below the segment …): one by one instead.
          stats[1] = 1;
          for (unsigned d = 0; d < o.segs[k]; d++) {
            const int32_t* m = meta + 4 * (o.first[k] + d);
            if (sendto(fd, data + m[0], static_cast<size_t>(m[1]), 0,
                       reinterpret_cast<const sockaddr*>(&o.sas[k]), o.msgs[k].msg_hdr.msg_namelen) < 0)
              failed++;
          }
          continue;
        }
        failed += o.segs[k];  // this datagram was refused (unreachable, bad address…): skip it
        continue;
      }
      done += static_cast<unsigned>(r);
    }
    i = next;
  }
  return Napi::Number::New(env, failed);
}

Napi::Value RecvBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0), family = ArgInt(info, 1);
  uint8_t *data, *metaBytes, *addrs;
  size_t dlen, mlen, alen;
  if (!Bytes(info[2], &data, &dlen) || !Bytes(info[4], &metaBytes, &mlen) || !Bytes(info[5], &addrs, &alen))
    return Napi::Number::New(env, -EINVAL);
  size_t slot = static_cast<size_t>(ArgInt(info, 3));
  unsigned max = static_cast<unsigned>(ArgInt(info, 6));
  if (max > kBatch) max = kBatch;
  if (slot == 0 || max * slot > dlen || max * 16u > mlen || max * 16u > alen) return Napi::Number::New(env, -EINVAL);
  auto* meta = reinterpret_cast<int32_t*>(metaBytes);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage sas[kBatch];
  alignas(cmsghdr) char ctl[kBatch][CMSG_SPACE(sizeof(int))];
  for (unsigned k = 0; k < max; k++) {
    iov[k] = {data + k * slot, slot};
    memset(&msgs[k], 0, sizeof(mmsghdr));
    msgs[k].msg_hdr.msg_name = &sas[k];
    msgs[k].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    msgs[k].msg_hdr.msg_control = ctl[k];
    msgs[k].msg_hdr.msg_controllen = sizeof(ctl[k]);
  }
  int r;
  do {
    r = recvmmsg(fd, msgs, max, MSG_DONTWAIT, nullptr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Napi::Number::New(env, errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno);
  for (int k = 0; k < r; k++) {
    int32_t* m = meta + 4 * k;
    m[0] = static_cast<int32_t>(msgs[k].msg_len);
    m[2] = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
    m[3] = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[k].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[k].msg_hdr, c)) {
      if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
        int size;
        memcpy(&size, CMSG_DATA(c), sizeof(size));
        m[3] = size;
      }
    }
    if (family == 4) {
      auto* sa = reinterpret_cast<sockaddr_in*>(&sas[k]);
      m[1] = ntohs(sa->sin_port);
      memcpy(addrs + 16 * k, &sa->sin_addr, 4);
    } else {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&sas[k]);
      m[1] = ntohs(sa->sin6_port);
      memcpy(addrs + 16 * k, &sa->sin6_addr, 16);
    }
  }
  return Napi::Number::New(env, r);
}

netcon::Registrar reg("udp", [](Napi::Env env, Napi::Object exports) {
  exports.Set("udpOpen", Napi::Function::New(env, Open));
  exports.Set("udpLocalPort", Napi::Function::New(env, LocalPort));
  exports.Set("udpSendBatch", Napi::Function::New(env, SendBatch));
  exports.Set("udpRecvBatch", Napi::Function::New(env, RecvBatch));
});

}  // namespace
