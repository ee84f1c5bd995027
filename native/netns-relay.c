/*
 * weft-netns-relay: rtnetlink sockets inside other network namespaces, for weftd, without weftd
 * ever changing its own namespace (design.md) and without a process per attach (issue 8).
 *
 * weftd starts this program once (src/sys/netlink/netns-relay.ts) and talks to it over
 * stdin/stdout in frames: [u32 len][u32 session][u8 type][len bytes of payload], integers
 * little-endian.
 *
 *   weftd -> relay   OPEN  (1) payload: path of a network namespace file (/var/run/netns/X,
 *                              /proc/PID/ns/net). The relay enters that namespace ITSELF (setns),
 *                              makes one NETLINK_ROUTE socket, and goes back to its own namespace.
 *                              The socket stays bound to the target namespace.
 *                    SEND  (2) payload: netlink message(s) for the session's socket.
 *                    CLOSE (3) no payload: the socket (or descriptor) is closed. Unknown sessions
 *                              are ignored.
 *                    NSFD  (4) payload: path of a network namespace file. The relay opens it and
 *                              keeps the descriptor until CLOSE; OPENED carries its number. It is
 *                              for IFLA_NET_NS_FD in requests sent through the relay: the kernel
 *                              resolves that descriptor in the SENDER's table, the relay's.
 *   relay -> weftd   OPENED (0x81) payload: u32 netlink port id of the new socket (NSFD: the
 *                              descriptor's number).
 *                    ERROR  (0x82) payload: u32 errno, then a short text. Answers an OPEN that
 *                              failed; on an open session, the socket failed (it is closed).
 *                    RECV   (0x83) payload: one datagram the session's socket received.
 *
 * A SEND the kernel refuses comes back as the NLMSG_ERROR the kernel would have sent for that
 * message (RECV), so weftd's netlink code sees an ordinary failed request.
 *
 * Lifetime: the relay exits when its stdin closes (weftd exited) and, with PR_SET_PDEATHSIG, when
 * its parent dies; it can never outlive weftd. A malformed frame (length over the limit, unknown
 * type) is a bug in weftd: the relay says so on stderr and exits (weftd restarts it on next use).
 *
 * Built by scripts/build-native.mjs into dist/native/weft-netns-relay (libc only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

enum { T_OPEN = 1, T_SEND = 2, T_CLOSE = 3, T_NSFD = 4, T_OPENED = 0x81, T_ERROR = 0x82, T_RECV = 0x83 };

#define HDR 9                        /* u32 len, u32 session, u8 type */
#define MAX_PAYLOAD (1u << 20)       /* no netlink request weft sends comes near this */
#define MAX_SESSIONS 256             /* concurrent attaches; more is refused with EMFILE */
#define RECV_BUF (64 * 1024)         /* > the kernel's largest netlink dump skb (32 KiB) */

struct session { uint32_t id; int fd; int is_socket; };

static struct session sessions[MAX_SESSIONS];
static int nsessions;
static int home_ns = -1;
static unsigned char inbuf[HDR + MAX_PAYLOAD];
static size_t inlen;
static unsigned char rbuf[RECV_BUF];

static void put32(unsigned char *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static uint32_t get32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void die(const char *what) {
  fprintf(stderr, "weft-netns-relay: %s\n", what);
  exit(2);
}

static void write_all(const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      /* Blocking when libuv made it (it does for a child's stdio); wait for room otherwise. */
      struct pollfd o = { .fd = STDOUT_FILENO, .events = POLLOUT };
      poll(&o, 1, -1);
      continue;
    }
    if (w <= 0) exit(0); /* weftd is gone */
    p += w;
    n -= (size_t)w;
  }
}

static void frame(uint32_t session, uint8_t type, const void *a, size_t alen, const void *b, size_t blen) {
  unsigned char h[HDR];
  put32(h, (uint32_t)(alen + blen));
  put32(h + 4, session);
  h[8] = type;
  write_all(h, HDR);
  if (alen) write_all(a, alen);
  if (blen) write_all(b, blen);
}

static void error_frame(uint32_t session, int err, const char *what) {
  unsigned char e[4];
  put32(e, (uint32_t)err);
  char msg[160];
  int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  frame(session, T_ERROR, e, 4, msg, n < 0 ? 0 : (size_t)n);
}

static struct session *find(uint32_t id) {
  for (int i = 0; i < nsessions; i++)
    if (sessions[i].id == id) return &sessions[i];
  return NULL;
}

static void drop(struct session *s) {
  close(s->fd);
  *s = sessions[--nsessions];
}

/* A namespace file (nsfs) opened; -errno on failure. setns would refuse other files too, this
 * says why more clearly, and an NSFD of a plain file is refused as well. */
static int open_ns(const char *path, const char **what) {
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) { *what = "open"; return -errno; }
  struct stat st;
  struct statfs sf;
  if (fstat(ns, &st) != 0 || !S_ISREG(st.st_mode) || fstatfs(ns, &sf) != 0 || sf.f_type != NSFS_MAGIC) {
    close(ns);
    *what = "not a namespace file";
    return -EINVAL;
  }
  return ns;
}

/* The socket in the namespace at path; -errno on failure, with *what naming the step. */
static int open_in(const char *path, const char **what, uint32_t *port) {
  int ns = open_ns(path, what);
  if (ns < 0) return ns;
  if (setns(ns, CLONE_NEWNET) != 0) {
    int err = errno;
    close(ns);
    *what = "setns";
    return -err;
  }
  close(ns);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  int err = fd < 0 ? errno : 0;
  /* Back home before anything else: staying would keep the container's namespace alive. */
  if (setns(home_ns, CLONE_NEWNET) != 0) die("cannot return to its own network namespace");
  if (fd < 0) { *what = "socket"; return -err; }
  struct sockaddr_nl a = { .nl_family = AF_NETLINK };
  socklen_t alen = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
    err = errno;
    close(fd);
    *what = "bind";
    return -err;
  }
  *port = a.nl_pid;
  return fd;
}

static void do_open(uint32_t id, int want_socket, const unsigned char *p, uint32_t len) {
  char path[4096];
  if (id == 0 || find(id)) return error_frame(id, EEXIST, "session id in use");
  if (len == 0 || len >= sizeof path || memchr(p, 0, len)) return error_frame(id, EINVAL, "bad namespace path");
  if (nsessions == MAX_SESSIONS) return error_frame(id, EMFILE, "too many sessions");
  memcpy(path, p, len);
  path[len] = 0;
  const char *what = "";
  uint32_t port = 0;
  int fd = want_socket ? open_in(path, &what, &port) : open_ns(path, &what);
  if (fd < 0) return error_frame(id, -fd, what);
  if (!want_socket) port = (uint32_t)fd;
  sessions[nsessions++] = (struct session){ id, fd, want_socket };
  unsigned char b[4];
  put32(b, port);
  frame(id, T_OPENED, b, 4, NULL, 0);
}

/* The NLMSG_ERROR the kernel would answer to a message it never got. */
static void refuse(uint32_t id, const unsigned char *msg, uint32_t len, int err) {
  struct { struct nlmsghdr h; struct nlmsgerr e; } r;
  memset(&r, 0, sizeof r);
  if (len >= sizeof(struct nlmsghdr)) memcpy(&r.e.msg, msg, sizeof(struct nlmsghdr));
  r.h.nlmsg_len = sizeof r;
  r.h.nlmsg_type = NLMSG_ERROR;
  r.h.nlmsg_seq = r.e.msg.nlmsg_seq;
  r.h.nlmsg_pid = r.e.msg.nlmsg_pid;
  r.e.error = -err;
  frame(id, T_RECV, &r, sizeof r, NULL, 0);
}

static void do_send(uint32_t id, const unsigned char *p, uint32_t len) {
  struct session *s = find(id);
  if (!s || !s->is_socket) return refuse(id, p, len, EBADF);
  if (len < sizeof(struct nlmsghdr)) return refuse(id, p, len, EINVAL);
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  for (;;) {
    ssize_t n = sendto(s->fd, p, len, 0, (struct sockaddr *)&kernel, sizeof kernel);
    if (n >= 0) return;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      /* Socket send buffer full (never for rtnetlink requests in practice): wait for room. */
      struct pollfd w = { .fd = s->fd, .events = POLLOUT };
      poll(&w, 1, 1000);
      continue;
    }
    return refuse(id, p, len, errno);
  }
}

static void do_frame(uint32_t id, uint8_t type, const unsigned char *p, uint32_t len) {
  switch (type) {
  case T_OPEN: return do_open(id, 1, p, len);
  case T_NSFD: return do_open(id, 0, p, len);
  case T_SEND: return do_send(id, p, len);
  case T_CLOSE: {
    struct session *s = find(id);
    if (s) drop(s);
    return;
  }
  default: die("unknown frame type from weftd");
  }
}

/* Reads what stdin has and handles every complete frame. Exits at end of file. */
static void read_stdin(void) {
  ssize_t n = read(STDIN_FILENO, inbuf + inlen, sizeof inbuf - inlen);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) exit(0); /* weftd closed our stdin: it exited */
  inlen += (size_t)n;
  size_t off = 0;
  while (inlen - off >= HDR) {
    uint32_t len = get32(inbuf + off);
    if (len > MAX_PAYLOAD) die("frame longer than the limit");
    if (inlen - off < HDR + len) break;
    do_frame(get32(inbuf + off + 4), inbuf[off + 8], inbuf + off + HDR, len);
    off += HDR + len;
  }
  memmove(inbuf, inbuf + off, inlen - off);
  inlen -= off;
}

static void read_session(struct session *s) {
  for (;;) {
    ssize_t n = recv(s->fd, rbuf, sizeof rbuf, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      /* ENOBUFS (overrun) and the like: the session cannot be trusted any more. */
      error_frame(s->id, errno, "recv");
      return drop(s);
    }
    if ((size_t)n > sizeof rbuf) {
      error_frame(s->id, EMSGSIZE, "datagram larger than the relay's buffer");
      return drop(s);
    }
    frame(s->id, T_RECV, rbuf, (size_t)n, NULL, 0);
  }
}

int main(int argc, char **argv) {
  /* Never outlive weftd: killed with it, and gone if it died before this line. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("prctl(PR_SET_PDEATHSIG) failed");
  if (argc > 1 && getppid() != (pid_t)strtol(argv[1], NULL, 10)) return 0;
  /* Ctrl-C in weftd's terminal: weftd shuts down, and closing our stdin ends us. */
  signal(SIGINT, SIG_IGN);
  home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ns < 0) die("cannot open /proc/self/ns/net");

  struct pollfd fds[1 + MAX_SESSIONS];
  uint32_t ids[1 + MAX_SESSIONS];
  for (;;) {
    int n = 0;
    fds[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
    for (int i = 0; i < nsessions; i++) {
      if (!sessions[i].is_socket) continue;
      ids[n] = sessions[i].id;
      fds[n++] = (struct pollfd){ .fd = sessions[i].fd, .events = POLLIN };
    }
    if (poll(fds, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll failed");
    }
    /* Sessions first (their sockets were polled by id: stdin may open and close some). */
    for (int i = 1; i < n; i++) {
      if (!fds[i].revents) continue;
      struct session *s = find(ids[i]);
      if (s && s->fd == fds[i].fd) read_session(s);
    }
    if (fds[0].revents) read_stdin();
  }
}
