// Imports of glue.c. Each forwards to the host object the TypeScript Stack puts on the module (Module.nc).
// eslint-disable
mergeInto(LibraryManager.library, {
  js_now: function () { return Module['nc'].now(); },
  js_out_full: function () { Module['nc'].outFull(); },
  js_tcp_accept: function (lid, pcb) { return Module['nc'].tcpAccept(lid, pcb); },
  js_tcp_connected: function (id) { Module['nc'].tcpConnected(id); },
  js_tcp_recv: function (id, ptr, len) { Module['nc'].tcpRecv(id, ptr, len); },
  js_tcp_sent: function (id, len) { Module['nc'].tcpSent(id, len); },
  js_tcp_err: function (id, err) { Module['nc'].tcpErr(id, err); },
  js_udp_recv: function (id, ptr, len) { Module['nc'].udpRecv(id, ptr, len); },
  js_ping_reply: function (family, seq, len) { Module['nc'].pingReply(family, seq, len); },
  js_icmp_echo_reply: function (family, ptr, len) { Module['nc'].icmpEchoReply(family, ptr, len); },
  js_rx_flush: function () { Module['nc'].rxFlush(); },
  js_assert: function (msg, line, file) { Module['nc'].assertFail(msg, line, file); },
});
