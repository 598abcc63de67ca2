/*
 * Reference C epoll server for the wirekit bench (single thread, level-triggered).
 *
 *   c-echo --port 0 --host 127.0.0.1 --mode echo|sink
 *
 * echo: read into a buffer and write it straight back. If the write is partial,
 *       the rest is kept in a per-connection pending buffer, EPOLLOUT is armed
 *       and reading from that connection pauses until the backlog is flushed
 *       (TCP backpressure, bounded memory).
 * sink: read and discard.
 *
 * Prints exactly one line "LISTENING <port>" on stdout when ready. Exits on SIGTERM
 * (default disposition) and SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (128 * 1024)

typedef struct {
    int fd;
    uint8_t *pend;      /* unsent echo bytes */
    size_t pend_len, pend_off, pend_cap;
} conn_t;

static int g_epfd;
static int g_sink = 0;
static uint8_t g_buf[BUF_SIZE];

static void usage(const char *msg) {
    fprintf(stderr, "c-echo: %s\nusage: c-echo --port N --host 127.0.0.1 --mode echo|sink\n", msg);
    exit(2);
}

static void conn_free(conn_t *c) {
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pend);
    free(c);
}

static void set_events(conn_t *c, uint32_t events) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.ptr = c;
    epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Keep bytes [from, from+len) of data as pending output. Returns -1 on OOM. */
static int keep_pending(conn_t *c, const uint8_t *data, size_t len) {
    if (c->pend_cap < len) {
        uint8_t *p = realloc(c->pend, len);
        if (!p) return -1;
        c->pend = p;
        c->pend_cap = len;
    }
    memcpy(c->pend, data, len);
    c->pend_len = len;
    c->pend_off = 0;
    return 0;
}

/* Write as much as possible. Returns bytes written, or -1 on a fatal error. */
static ssize_t write_some(int fd, const uint8_t *data, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, data + done, len - done, MSG_NOSIGNAL);
        if (n > 0) { done += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return -1;
    }
    return (ssize_t)done;
}

static void on_writable(conn_t *c) {
    size_t left = c->pend_len - c->pend_off;
    ssize_t n = write_some(c->fd, c->pend + c->pend_off, left);
    if (n < 0) { conn_free(c); return; }
    c->pend_off += (size_t)n;
    if (c->pend_off == c->pend_len) {
        c->pend_len = c->pend_off = 0;
        set_events(c, EPOLLIN | EPOLLRDHUP); /* backlog flushed: resume reading */
    }
}

static void on_readable(conn_t *c) {
    if (g_sink) {
        for (int i = 0; i < 16; i++) {
            ssize_t n = recv(c->fd, g_buf, BUF_SIZE, 0);
            if (n > 0) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            conn_free(c); /* EOF or error */
            return;
        }
        return;
    }
    ssize_t n;
    do n = recv(c->fd, g_buf, BUF_SIZE, 0); while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) { conn_free(c); return; }
    ssize_t w = write_some(c->fd, g_buf, (size_t)n);
    if (w < 0) { conn_free(c); return; }
    if (w < n) {
        if (keep_pending(c, g_buf + w, (size_t)(n - w)) < 0) { conn_free(c); return; }
        set_events(c, EPOLLOUT); /* pause reading until flushed */
    }
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    long port = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage("missing option value");
        const char *a = argv[i], *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            char *end;
            port = strtol(v, &end, 10);
            if (*end || port < 0 || port > 65535) usage("bad --port");
        } else if (strcmp(a, "--host") == 0) {
            host = v;
        } else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "echo") == 0) g_sink = 0;
            else if (strcmp(v, "sink") == 0) g_sink = 1;
            else usage("--mode must be echo or sink");
        } else {
            usage("unknown option");
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage("--host must be an IPv4 literal");

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("bind"); return 1; }
    if (listen(lfd, 1024) != 0) { perror("listen"); return 1; }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);

    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_epfd < 0) { perror("epoll_create1"); return 1; }
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* NULL marks the listener */
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, lfd, &ev);

    printf("LISTENING %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(g_epfd, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn_t *nc = calloc(1, sizeof *nc);
                    if (!nc) { close(fd); continue; }
                    nc->fd = fd;
                    struct epoll_event cev;
                    cev.events = EPOLLIN | EPOLLRDHUP;
                    cev.data.ptr = nc;
                    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &cev) != 0) { close(fd); free(nc); }
                }
                continue;
            }
            uint32_t e = evs[k].events;
            if (c->pend_len) {
                /* backlog pending: only flush (errors surface as a failed send) */
                if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) on_writable(c);
                continue; /* c may be freed; reading resumes on a later event */
            }
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
        }
    }
}
