/*
 * wirekit bench UDP load generator: single-threaded, epoll, recvmmsg/sendmmsg.
 *
 *   udpgen --host 127.0.0.1 --port N --mode echo|sink --sockets S --window W --size B
 *          --duration SECS --warmup SECS [--json]
 *
 * echo: S sockets, each connect()ed to the server, keep W datagrams of B bytes
 *       in flight. Every datagram carries a 4-byte socket-local sequence number
 *       and a pattern byte at its end; a reply is checked (size, pattern) and
 *       replaced by a new datagram. Datagrams are lossy: when a socket has had
 *       no reply for 20 ms, what it still has in flight is counted as lost and
 *       its window is refilled. Reports answered datagrams per second and the
 *       loss (lost / sent) inside the measured window.
 *
 *       Only replies whose sequence number is still in flight count (a late
 *       reply to a datagram already counted lost is ignored).
 *
 *   +--------+-----------------------------+---------+
 *   | seq u32|  0x5a filler (B - 5 bytes)  | 0xa5    |
 *   +--------+-----------------------------+---------+
 *
 * sink: S sockets send datagrams of B bytes as fast as sendmmsg accepts them
 *       (batches of 64, non-blocking: a full socket buffer is retried on the
 *       next epoll wake-up). After the run it asks the server how many it
 *       received: a datagram "?" whose reply is the decimal count. It sends
 *       "?" twice, at the start of the measured window and at its end, so
 *       received/s = (count at end - count at start) / duration; loss =
 *       1 - received / sent in that window.
 *
 * Hard stop via alarm() at warmup+duration+5 s. Only IPv4 addresses.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 256
#define MAX_WINDOW 1024
#define BATCH 64
#define MAX_SIZE 65507

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "udpgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

typedef struct {
  int fd;
  uint32_t next_seq;      /* next sequence number to send */
  uint32_t oldest;        /* oldest sequence number still in flight */
  int in_flight;
  double last_reply;      /* time of the last reply or refill */
  unsigned char seen[MAX_WINDOW]; /* answered flags, indexed by seq % window */
} sock_t;

static const char *host = "127.0.0.1";
static int port = 0, sockets = 16, window = 32, size = 64, json = 0;
static double duration = 2, warmup = 1;
static const char *mode = "echo";

static int open_socket(struct sockaddr_in *to) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (connect(fd, (struct sockaddr *)to, sizeof *to) < 0) die("connect");
  return fd;
}

static void fill(unsigned char *p, uint32_t seq) {
  memcpy(p, &seq, 4);
  memset(p + 4, 0x5a, size - 5);
  p[size - 1] = 0xa5;
}

/* Sends datagrams until the socket's window is full or the kernel says wait. */
static long top_up(sock_t *s, unsigned char *bufs) {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  long sent = 0;
  while (s->in_flight < window) {
    int n = window - s->in_flight;
    if (n > BATCH) n = BATCH;
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < n; i++) {
      unsigned char *p = bufs + (size_t)i * size;
      fill(p, s->next_seq + i);
      iov[i].iov_base = p;
      iov[i].iov_len = size;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(s->fd, msgs, n, 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      if (errno == ECONNREFUSED) continue; /* an ICMP from a previous datagram: retry */
      die("sendmmsg");
    }
    for (int i = 0; i < r; i++) s->seen[(s->next_seq + i) % window] = 0;
    s->next_seq += r;
    s->in_flight += r;
    sent += r;
    if (r < n) break;
  }
  return sent;
}

static long query_count(struct sockaddr_in *to) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  struct timeval tv = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)to, sizeof *to) < 0) die("connect");
  char buf[64];
  for (int attempt = 0; attempt < 25; attempt++) {
    if (send(fd, "?", 1, 0) < 0 && errno != ECONNREFUSED) die("send ?");
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = 0;
      close(fd);
      return atol(buf);
    }
  }
  close(fd);
  fprintf(stderr, "udpgen: the sink server did not answer \"?\"\n");
  exit(1);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--json")) { json = 1; continue; }
    if (!v) { fprintf(stderr, "udpgen: missing value for %s\n", a); return 2; }
    i++;
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--mode")) mode = v;
    else if (!strcmp(a, "--sockets")) sockets = atoi(v);
    else if (!strcmp(a, "--window")) window = atoi(v);
    else if (!strcmp(a, "--size")) size = atoi(v);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--warmup")) warmup = atof(v);
    else { fprintf(stderr, "udpgen: unknown option %s\n", a); return 2; }
  }
  int echo = !strcmp(mode, "echo");
  if (!echo && strcmp(mode, "sink")) { fprintf(stderr, "udpgen: --mode echo|sink\n"); return 2; }
  if (port <= 0 || sockets < 1 || sockets > MAX_SOCKETS || window < 1 || window > MAX_WINDOW || size < 8 ||
      size > MAX_SIZE || duration <= 0 || warmup < 0) {
    fprintf(stderr, "udpgen: bad options\n");
    return 2;
  }
  alarm((unsigned)(warmup + duration + 5));

  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { fprintf(stderr, "udpgen: IPv4 only\n"); return 2; }

  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  static sock_t socks[MAX_SOCKETS];
  for (int i = 0; i < sockets; i++) {
    socks[i].fd = open_socket(&to);
    struct epoll_event ev = {.events = echo ? EPOLLIN : EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, socks[i].fd, &ev) < 0) die("epoll_ctl");
  }
  unsigned char *bufs = malloc((size_t)BATCH * (size > 64 ? size : 64));
  unsigned char *rbufs = malloc((size_t)BATCH * MAX_SIZE > 8u << 20 ? 8u << 20 : (size_t)BATCH * MAX_SIZE);
  size_t rslot = size + 64;
  if ((size_t)BATCH * rslot > (8u << 20)) rslot = (8u << 20) / BATCH;
  if (!bufs || !rbufs) die("malloc");

  double t0 = now_s(), start = t0 + warmup, end = start + duration;
  long sent = 0, answered = 0, lost = 0, bad = 0, sent_w = 0, answered_w = 0, lost_w = 0;
  long count_start = -1;
  for (int i = 0; i < sockets; i++) {
    socks[i].last_reply = t0;
    if (echo) sent += top_up(&socks[i], bufs);
  }
  struct epoll_event events[MAX_SOCKETS];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  for (;;) {
    double t = now_s();
    int in_window = t >= start && t < end;
    if (t >= end) break;
    if (!echo && count_start < 0 && t >= start) count_start = query_count(&to), sent_w = 0;
    int n = epoll_wait(ep, events, MAX_SOCKETS, echo ? 5 : 1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      sock_t *s = &socks[events[e].data.u32];
      if (!echo) {
        /* sink: blast a batch */
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++) {
          fill(bufs, (uint32_t)i);
          iov[i].iov_base = bufs;
          iov[i].iov_len = size;
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(s->fd, msgs, BATCH, 0);
        if (r < 0) {
          if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) continue;
          die("sendmmsg");
        }
        sent += r;
        if (t >= start) sent_w += r;
        continue;
      }
      for (;;) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++) {
          iov[i].iov_base = rbufs + (size_t)i * rslot;
          iov[i].iov_len = rslot;
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int r = recvmmsg(s->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (r < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno == ECONNREFUSED) break; /* ICMP: counted as loss by the timeout */
          die("recvmmsg");
        }
        for (int i = 0; i < r; i++) {
          unsigned char *p = rbufs + (size_t)i * rslot;
          uint32_t seq;
          memcpy(&seq, p, 4);
          if ((int)msgs[i].msg_len != size || p[size - 1] != 0xa5 || p[4] != 0x5a) { bad++; continue; }
          /* still in flight: oldest <= seq < next_seq, not answered yet */
          if ((uint32_t)(seq - s->oldest) >= (uint32_t)(s->next_seq - s->oldest)) continue;
          if (s->seen[seq % window]) continue;
          s->seen[seq % window] = 1;
          s->in_flight--;
          answered++;
          if (in_window) answered_w++;
          s->last_reply = t;
        }
        /* advance the oldest past answered ones */
        while (s->oldest != s->next_seq && s->seen[s->oldest % window]) s->oldest++;
        if (r < BATCH) break;
      }
      long k = top_up(s, bufs);
      sent += k;
      if (in_window) sent_w += k;
    }
    if (echo) {
      for (int i = 0; i < sockets; i++) {
        sock_t *s = &socks[i];
        if (s->in_flight > 0 && t - s->last_reply > 0.020) {
          lost += s->in_flight;
          if (in_window) lost_w += s->in_flight;
          s->in_flight = 0;
          s->oldest = s->next_seq;
          s->last_reply = t;
          long k = top_up(s, bufs);
          sent += k;
          if (in_window) sent_w += k;
        }
      }
    }
  }
  double rate, loss;
  if (echo) {
    rate = answered_w / duration;
    loss = sent_w ? (double)lost_w / (double)sent_w : 0;
  } else {
    usleep(50000); /* let the server drain what the kernel already holds */
    long count_end = query_count(&to);
    long got = count_end - (count_start < 0 ? 0 : count_start);
    rate = got / duration;
    loss = sent_w ? 1.0 - (double)got / (double)sent_w : 0;
    if (loss < 0) loss = 0;
    answered_w = got;
  }
  if (json)
    printf("{\"mode\":\"%s\",\"rate\":%.0f,\"sent\":%ld,\"received\":%ld,\"lost\":%ld,\"loss\":%.4f,\"bad\":%ld}\n",
           mode, rate, sent_w, answered_w, lost_w, loss, bad);
  else
    printf("%s: %.0f datagrams/s, sent %ld, received %ld, loss %.2f%%, bad %ld\n", mode, rate, sent_w, answered_w,
           loss * 100, bad);
  return bad ? 1 : 0;
}
