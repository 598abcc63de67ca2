/*
 * wirekit bench load generator: single-threaded epoll TCP client.
 *
 *   loadgen --host 127.0.0.1 --port N --conns C --size S --pipeline P
 *           --duration SECS --warmup SECS --mode echo|oneway|kv|rpc-kv [--json] [--busy-poll]
 *           [--tls [--tls-ca PATH] [--handshake]]
 *
 * Wire format (echo, oneway): frame = 4-byte big-endian length + S payload bytes.
 *
 * echo:   C connections, each keeps P requests in flight. The server echoes the
 *         bytes back; responses are parsed as the same frames and checked
 *         (length field == S, sequence number in payload bytes 0..3, a middle
 *         and the last payload byte). Each answered request is replaced by a
 *         new one. Latency = response completion - request enqueue time, per
 *         connection FIFO, CLOCK_MONOTONIC, log-linear histogram (<0.8% error).
 * oneway: C connections stream frames as fast as the kernel accepts them; the
 *         server only reads. Reports payload MB/s (1 MB = 1e6 bytes) of bytes
 *         accepted by write() during the measured window.
 * kv, rpc-kv: a typed key-value service (suite `typed`): C connections, each
 *         keeps P requests in flight, a deterministic Get/Put mix, every reply
 *         checked (id, kind of answer, value). --size is ignored. The wire
 *         formats, the setup and the mix are described at "kv / rpc-kv modes"
 *         below. The JSON result adds "mix": completions per request kind.
 *
 * --tls (echo mode only): the same load over TLS (OpenSSL, non-blocking, on the
 *         same epoll loop). Every connection completes its handshake before the
 *         clock starts, so the window measures the TLS data path. The server's
 *         certificate is not verified unless --tls-ca PATH names the CA file it
 *         must chain to (then its subject alt names must also list --host).
 * --tls --handshake: handshakes per second. C connection slots; each runs ONE
 *         request on a fresh connection: connect, full handshake (no session
 *         resumption: every handshake pays the server's key exchange and
 *         signature), one echo request (--pipeline 1), its reply checked, then
 *         close_notify and wait for the server to close, and the slot starts
 *         the next connection. A completion is a checked reply; latency is
 *         connect() to checked reply. A connection not closed within 2 s of
 *         its connect() is an error (a server that hangs in any phase).
 *         Sequence numbers run across connections, so a reply sent to the
 *         wrong connection fails the check.
 *
 * Only counts completions/bytes inside [start+warmup, start+warmup+duration).
 * Any error (connect failure, server close, malformed echo, no progress) is
 * reported and makes the exit status non-zero. Hard stop via alarm() at
 * warmup+duration+5 s. Only IPv4 loopback addresses are accepted.
 *
 * --busy-poll spins on epoll_wait(0) instead of sleeping. It cuts 1-connection
 * round trips by ~3x on a VM (no client wakeup) but changes the workload: the
 * client answers each tiny read at once, so servers see smaller batches. Off by
 * default and not used by bench/run.mjs.
 *
 * Exit status: 0 ok, 1 run had errors, 2 usage, 3 hard timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * TLS needs OpenSSL (libssl-dev). bench/run.mjs builds with -DLOADGEN_TLS and
 * -lssl -lcrypto, and falls back to a build without them where the headers are
 * missing, so the plain suites still run there; such a build refuses --tls.
 */
#ifdef LOADGEN_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#else
typedef struct ssl_st SSL;
#endif

/* ---------- options ---------- */

enum { MODE_ECHO = 0, MODE_ONEWAY = 1, MODE_KV = 2, MODE_RPCKV = 3 };

static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static int opt_conns = 1;
static uint32_t opt_size = 64;
static uint32_t opt_pipeline = 1;
static double opt_duration = 5.0;
static double opt_warmup = 1.0;
static int opt_mode = MODE_ECHO;
static int opt_json = 0;
static int opt_busy_poll = 0;   /* epoll_wait(timeout 0): spin instead of sleeping */
static int opt_tls = 0;
static const char *opt_tls_ca = NULL;
static int opt_handshake = 0;   /* --tls: one request per fresh connection */

/* ---------- time ---------- */

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------- errors ---------- */

static uint64_t g_errors = 0;
static char g_first_error[256] = "";

static void record_error(const char *fmt, ...) {
    g_errors++;
    if (g_first_error[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g_first_error, sizeof g_first_error, fmt, ap);
        va_end(ap);
    }
}

static void die_usage(const char *msg) {
    fprintf(stderr, "loadgen: %s\n", msg);
    fprintf(stderr,
            "usage: loadgen --host 127.0.0.1 --port N --conns C --size S --pipeline P\n"
            "               --duration SECS --warmup SECS --mode echo|oneway|kv|rpc-kv [--json] [--busy-poll]\n"
            "               [--tls [--tls-ca PATH] [--handshake]]   (TLS: --mode echo only)\n");
    exit(2);
}

/* ---------- hard stop ---------- */

static void on_alarm(int sig) {
    (void)sig;
    static const char human[] = "loadgen: hard timeout (duration+warmup+5s) reached, aborting\n";
    static const char json[] = "{\"error\":\"hard timeout reached\",\"errors\":1}\n";
    if (opt_json) {
        ssize_t r = write(1, json, sizeof json - 1);
        (void)r;
    }
    ssize_t r = write(2, human, sizeof human - 1);
    (void)r;
    _exit(3);
}

/* ---------- latency histogram (log-linear, bounded memory) ---------- */

#define SUB_BITS 7                       /* 128 linear sub-buckets per power of two */
#define SUB_HALF (1u << (SUB_BITS - 1))  /* 64 */
#define HIST_BUCKETS (64 * SUB_HALF + 2 * SUB_HALF)

static uint64_t g_hist[HIST_BUCKETS];
static uint64_t g_hist_count = 0;
static uint64_t g_hist_sum = 0;
static uint64_t g_hist_max = 0;

static inline uint32_t hist_index(uint64_t v) {
    if (v < (1u << SUB_BITS)) return (uint32_t)v;
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(v);
    uint32_t e = msb - (SUB_BITS - 1);  /* >= 1 */
    return e * SUB_HALF + (uint32_t)(v >> e);
}

static inline uint64_t hist_value(uint32_t idx) { /* midpoint of the bucket */
    if (idx < (1u << SUB_BITS)) return idx;
    uint32_t e = idx / SUB_HALF - 1;
    uint64_t mant = idx - e * SUB_HALF;
    uint64_t lo = mant << e;
    return lo + ((1ull << e) >> 1);
}

static inline void hist_record(uint64_t v) {
    g_hist[hist_index(v)]++;
    g_hist_count++;
    g_hist_sum += v;
    if (v > g_hist_max) g_hist_max = v;
}

static double hist_quantile_us(double q) {
    if (g_hist_count == 0) return 0.0;
    uint64_t rank = (uint64_t)ceil(q * (double)g_hist_count);
    if (rank < 1) rank = 1;
    uint64_t acc = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        acc += g_hist[i];
        if (acc >= rank) {
            uint64_t v = hist_value(i);
            if (v > g_hist_max) v = g_hist_max;
            return (double)v / 1000.0;
        }
    }
    return (double)g_hist_max / 1000.0;
}

/* ---------- connections ---------- */

typedef struct {    /* kv / rpc-kv: per-connection request slots and reply reassembly */
    uint64_t *slot_id;      /* id in flight in each slot (UINT64_MAX: free) */
    uint8_t *slot_kind;
    uint32_t *slot_key;
    uint32_t *free;         /* stack of free slots */
    uint32_t nfree;
    uint64_t seq;           /* id = seq * P + slot */
    uint64_t rng;
    uint8_t *in;            /* bytes of an incomplete reply */
    size_t in_len, in_cap;
} kv_conn_t;

typedef struct {
    int fd;
    int id;
    int alive;
    int out_armed;      /* EPOLLOUT registered */
    /* echo: pending output */
    uint8_t *out;
    size_t out_cap, out_start, out_end;
    /* echo: in-flight FIFO of send timestamps, indexed by seq % pipeline */
    uint64_t *ts;
    uint32_t sent_seq, recv_seq, inflight;
    /* echo: streaming response parser */
    uint8_t hdr[4];
    uint32_t hdr_got;
    uint32_t pay_got;
    /* oneway: offset within the current frame */
    size_t off;
    kv_conn_t kv;
    /* --tls */
    SSL *ssl;
    int read_wants_out;   /* SSL_read must send before it can read on (it waits for EPOLLOUT) */
    /* --handshake: the slot's current connection */
    int hs_state;
    int hs_shutdown_sent;
    uint64_t t_open;      /* its connect() */
} conn_t;

static int g_epfd = -1;
static struct sockaddr_in g_addr;  /* the server */
static conn_t *g_conns = NULL;
static int g_alive = 0;
static int g_running = 1;          /* still issuing new requests */
static uint64_t g_meas_start = 0;  /* start of measured window (after warmup) */
static uint64_t g_meas_end = 0;

static uint8_t *g_tpl = NULL;      /* echo: one request frame template */
static size_t g_frame = 0;         /* bytes per frame = 4 + size */
static uint32_t g_check[6];        /* payload positions verified on every response */
static int g_ncheck = 0;

static uint64_t g_completed = 0;   /* responses completed inside the window */
static uint64_t g_completed_all = 0;

static uint8_t *g_obuf = NULL;     /* oneway: K frames back to back */
static size_t g_obuf_len = 0;
static uint64_t g_bytes = 0;       /* oneway: bytes written inside the window */
static uint64_t g_payload_bytes = 0;
static uint64_t g_bytes_all = 0;

#define RBUF_SIZE (256 * 1024)
static uint8_t g_rbuf[RBUF_SIZE];

static void tls_free(conn_t *c);

static void conn_close(conn_t *c, int is_error, const char *why) {
    if (!c->alive) return;
    if (is_error) record_error("conn %d: %s", c->id, why);
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    tls_free(c);
    close(c->fd);
    c->alive = 0;
    g_alive--;
}

static void conn_set_out(conn_t *c, int want) {
    if (c->out_armed == want) return;
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->out_armed = want;
}

/* ---------- echo mode ---------- */

static inline uint8_t expected_byte(const conn_t *c, uint32_t pos) {
    if (pos < 4) return (uint8_t)(c->recv_seq >> (24 - 8 * pos));
    return g_tpl[4 + pos];
}

static inline void echo_enqueue(conn_t *c, uint64_t now) {
    if (c->out_end + g_frame > c->out_cap) {
        size_t pending = c->out_end - c->out_start;
        memmove(c->out, c->out + c->out_start, pending);
        c->out_start = 0;
        c->out_end = pending;
    }
    uint8_t *p = c->out + c->out_end;
    memcpy(p, g_tpl, g_frame);
    uint32_t seq = c->sent_seq;
    uint32_t n = opt_size < 4 ? opt_size : 4;
    for (uint32_t i = 0; i < n; i++) p[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
    c->out_end += g_frame;
    c->ts[seq % opt_pipeline] = now;
    c->sent_seq++;
    c->inflight++;
}

static void echo_flush(conn_t *c) {
    while (c->out_end > c->out_start) {
        ssize_t n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_start += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_set_out(c, 1);
            return;
        }
        char why[96];
        snprintf(why, sizeof why, "write failed: %s", n == 0 ? "zero write" : strerror(errno));
        conn_close(c, 1, why);
        return;
    }
    c->out_start = c->out_end = 0;
    conn_set_out(c, 0);
}

static inline void echo_complete(conn_t *c, uint64_t now) {
    uint64_t t0 = c->ts[c->recv_seq % opt_pipeline];
    c->recv_seq++;
    c->inflight--;
    g_completed_all++;
    if (now >= g_meas_start && now < g_meas_end) {
        hist_record(now - t0);
        g_completed++;
    }
    if (g_running && !opt_handshake) echo_enqueue(c, now);
}

/* Parse n response bytes. Returns 0, or -1 after closing the connection. */
static int echo_parse(conn_t *c, const uint8_t *d, size_t n, uint64_t now) {
    size_t i = 0;
    const uint32_t S = opt_size;
    while (i < n) {
        if (c->hdr_got < 4) {
            if (c->hdr_got == 0 && n - i >= 4) {
                memcpy(c->hdr, d + i, 4);
                i += 4;
                c->hdr_got = 4;
            } else {
                c->hdr[c->hdr_got++] = d[i++];
                if (c->hdr_got < 4) continue;
            }
            uint32_t len = ((uint32_t)c->hdr[0] << 24) | ((uint32_t)c->hdr[1] << 16) |
                           ((uint32_t)c->hdr[2] << 8) | (uint32_t)c->hdr[3];
            if (c->inflight == 0) {
                conn_close(c, 1, "received data with no request in flight");
                return -1;
            }
            if (len != S) {
                char why[128];
                snprintf(why, sizeof why,
                         "bad echoed frame length %u (expected %u) at response #%u",
                         len, S, c->recv_seq);
                conn_close(c, 1, why);
                return -1;
            }
            c->pay_got = 0;
            if (S == 0) {
                c->hdr_got = 0;
                echo_complete(c, now);
                continue;
            }
        }
        size_t avail = n - i;
        size_t need = S - c->pay_got;
        size_t take = avail < need ? avail : need;
        uint32_t lo = c->pay_got, hi = c->pay_got + (uint32_t)take;
        for (int k = 0; k < g_ncheck; k++) {
            uint32_t pos = g_check[k];
            if (pos >= lo && pos < hi && d[i + (pos - lo)] != expected_byte(c, pos)) {
                char why[128];
                snprintf(why, sizeof why,
                         "echoed payload mismatch at byte %u of response #%u (got 0x%02x, expected 0x%02x)",
                         pos, c->recv_seq, d[i + (pos - lo)], expected_byte(c, pos));
                conn_close(c, 1, why);
                return -1;
            }
        }
        i += take;
        c->pay_got = hi;
        if (c->pay_got == S) {
            c->hdr_got = 0;
            echo_complete(c, now);
        }
    }
    return 0;
}

static void echo_on_readable(conn_t *c) {
    for (int iter = 0; iter < 8; iter++) {
        ssize_t n = recv(c->fd, g_rbuf, RBUF_SIZE, 0);
        if (n > 0) {
            uint64_t now = now_ns();
            if (echo_parse(c, g_rbuf, (size_t)n, now) < 0) return;
            if ((size_t)n < RBUF_SIZE) break;
            continue;
        }
        if (n == 0) {
            conn_close(c, g_running, "server closed the connection");
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        char why[96];
        snprintf(why, sizeof why, "read failed: %s", strerror(errno));
        conn_close(c, g_running, why);
        return;
    }
    if (c->out_end > c->out_start && !c->out_armed) echo_flush(c);
}

/* ---------- kv / rpc-kv modes (suite `typed`) ---------- */

/*
 * A typed key-value service: requests Get {key} and Put {key, value}, replies
 * a value, null, or the typed error TooLong {max: 128} (a Put whose value is
 * longer than 128 characters). Two wire formats of the same service:
 *
 * --mode kv: wirekit's Protocol.schema envelope (packages/core/src/Protocol.ts
 *   `schema`, correlation "byId"), default framing: 4-byte big-endian length +
 *   one UTF-8 JSON document per frame. Captured from the wirekit server
 *   (bench/src/kv.ts):
 *     → {"id":1,"request":{"_tag":"Put","key":"key:7","value":"val:7:..."}}
 *     ← {"id":1,"success":null}
 *     → {"id":2,"request":{"_tag":"Get","key":"key:7"}}
 *     ← {"id":2,"success":"val:7:..."}
 *     → {"id":3,"request":{"_tag":"Get","key":"nokey:7"}}
 *     ← {"id":3,"success":null}
 *     → {"id":4,"request":{"_tag":"Put","key":"key:7","value":"LLL...(200)"}}
 *     ← {"id":4,"failure":{"max":128,"_tag":"TooLong"}}
 *   (a fault would be {"id":N,"fault":{"reason":"...","detail":"..."}}: an error here.)
 *
 * --mode rpc-kv: @effect/rpc 0.76 over a socket with RpcSerialization.ndjson
 *   (one JSON document per line, "\n"-terminated): RpcMessage RequestEncoded
 *   in, ResponseExitEncoded out (Schema.Exit encoding), the id a decimal string.
 *   Captured from bench/src/kv-rpc.ts:
 *     → {"_tag":"Request","id":"1","tag":"Put","payload":{"key":"key:7","value":"val:7:..."},"headers":[]}
 *     ← {"_tag":"Exit","requestId":"1","exit":{"_tag":"Success","value":null}}
 *     → {"_tag":"Request","id":"2","tag":"Get","payload":{"key":"key:7"},"headers":[]}
 *     ← {"_tag":"Exit","requestId":"2","exit":{"_tag":"Success","value":"val:7:..."}}
 *     → {"_tag":"Request","id":"4","tag":"Put","payload":{"key":"key:7","value":"LLL...(200)"},"headers":[]}
 *     ← {"_tag":"Exit","requestId":"4","exit":{"_tag":"Failure","cause":{"_tag":"Fail","error":{"max":128,"_tag":"TooLong"}}}}
 *
 * Replies are matched by id (any order: both formats are multiplexed). Every
 * reply is compared byte for byte with the one expected for its request
 * (JSON.stringify output: no whitespace; the TooLong object is accepted with
 * its two fields in either order). A reply with an unknown id, a wrong kind of
 * answer (value / null / typed error), a wrong value, a fault, or anything
 * unparsable is an error that fails the run.
 *
 * Setup (before the clock starts, on connection 0): Put key:0..key:999 with
 * their values, every reply checked (success null). Then each connection keeps
 * P requests in flight; the mix is deterministic (xorshift per connection):
 *   70% Get key:i      (present)           → its value
 *   10% Get nokey:i    (never stored)      → null
 *   15% Put key:i, its same value          → null (the store does not change)
 *    5% Put key:i, 200 characters          → TooLong {max: 128} (not stored)
 * so every expected reply is known whatever the interleaving of connections.
 * After the measured window no new requests are sent and every request still
 * in flight must get its (checked) reply within 2 s: a lost reply is an error
 * too. Setup and drain fit in the hard stop (setup ≤ 3 s + drain ≤ 2 s).
 */

#define KV_KEYS 1000u
#define KV_MAX_VALUE 128
#define KV_LONG_LEN 200
#define KV_REQ_MAX 512          /* bytes of the largest request (the long Put, ~300) */
#define KV_MSG_MAX (64 * 1024)  /* a reply above this is an error */
#define KV_SETUP_NS 3000000000ull  /* setup Puts: every reply within 3 s */
#define KV_DRAIN_NS 2000000000ull  /* after the run: every reply still due within 2 s */

enum { K_GET_HIT = 0, K_GET_MISS = 1, K_PUT = 2, K_PUT_LONG = 3, K_KINDS = 4 };
static const char *const k_kind_name[K_KINDS] = {"get_hit", "get_miss", "put", "too_long"};

static char g_long_value[KV_LONG_LEN + 1];
static uint64_t g_kind_done[K_KINDS];  /* completed inside the window, per kind */
static int g_kv_setup = 0;             /* setup phase: replies are for the setup Puts */
static uint8_t *g_setup_seen = NULL;

static inline int kv_value(char *out, size_t cap, uint32_t key) {
    return snprintf(out, cap, "val:%u:abcdefghijklmnopqrstuvwx", key);
}

static inline uint64_t kv_rand(kv_conn_t *k) {  /* xorshift64* */
    uint64_t x = k->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    k->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Writes one request (framed for kv, a line for rpc-kv) at p; returns its size. */
static size_t kv_encode(uint8_t *p, uint64_t id, int kind, uint32_t key) {
    char *body = (char *)p + (opt_mode == MODE_KV ? 4 : 0);
    size_t cap = KV_REQ_MAX - 5;
    char val[64];
    const char *value = NULL;
    if (kind == K_PUT) { kv_value(val, sizeof val, key); value = val; }
    if (kind == K_PUT_LONG) value = g_long_value;
    const char *kp = kind == K_GET_MISS ? "nokey" : "key";
    int n;
    if (opt_mode == MODE_KV) {
        n = value == NULL
            ? snprintf(body, cap, "{\"id\":%llu,\"request\":{\"_tag\":\"Get\",\"key\":\"%s:%u\"}}",
                       (unsigned long long)id, kp, key)
            : snprintf(body, cap, "{\"id\":%llu,\"request\":{\"_tag\":\"Put\",\"key\":\"%s:%u\",\"value\":\"%s\"}}",
                       (unsigned long long)id, kp, key, value);
        p[0] = (uint8_t)((uint32_t)n >> 24);
        p[1] = (uint8_t)((uint32_t)n >> 16);
        p[2] = (uint8_t)((uint32_t)n >> 8);
        p[3] = (uint8_t)n;
        return 4 + (size_t)n;
    }
    n = value == NULL
        ? snprintf(body, cap, "{\"_tag\":\"Request\",\"id\":\"%llu\",\"tag\":\"Get\",\"payload\":{\"key\":\"%s:%u\"},\"headers\":[]}\n",
                   (unsigned long long)id, kp, key)
        : snprintf(body, cap, "{\"_tag\":\"Request\",\"id\":\"%llu\",\"tag\":\"Put\",\"payload\":{\"key\":\"%s:%u\",\"value\":\"%s\"},\"headers\":[]}\n",
                   (unsigned long long)id, kp, key, value);
    return (size_t)n;
}

static void kv_enqueue(conn_t *c, uint64_t now) {
    kv_conn_t *k = &c->kv;
    if (k->nfree == 0) return;
    if (c->out_end + KV_REQ_MAX > c->out_cap) {
        size_t pending = c->out_end - c->out_start;
        memmove(c->out, c->out + c->out_start, pending);
        c->out_start = 0;
        c->out_end = pending;
    }
    uint32_t slot = k->free[--k->nfree];
    uint64_t r = kv_rand(k);
    uint32_t pct = (uint32_t)(r % 100u);
    uint32_t key = (uint32_t)((r >> 32) % KV_KEYS);
    int kind = pct < 70 ? K_GET_HIT : pct < 80 ? K_GET_MISS : pct < 95 ? K_PUT : K_PUT_LONG;
    uint64_t id = k->seq++ * opt_pipeline + slot;
    k->slot_id[slot] = id;
    k->slot_kind[slot] = (uint8_t)kind;
    k->slot_key[slot] = key;
    c->ts[slot] = now;
    c->out_end += kv_encode(c->out + c->out_end, id, kind, key);
    c->inflight++;
}

/* Reads a decimal id at *pp (up to `end`), then expects `term`. Returns 0 or -1. */
static int kv_read_id(const char **pp, const char *end, uint64_t *id, const char *term) {
    const char *p = *pp;
    uint64_t v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 19) { v = v * 10 + (uint64_t)(*p - '0'); p++; digits++; }
    size_t tl = strlen(term);
    if (digits == 0 || (size_t)(end - p) < tl || memcmp(p, term, tl) != 0) return -1;
    *id = v;
    *pp = p + tl;
    return 0;
}

static int kv_body_is(const char *p, const char *end, const char *a, const char *b, const char *c) {
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    return (size_t)(end - p) == la + lb + lc && memcmp(p, a, la) == 0 && memcmp(p + la, b, lb) == 0 &&
           memcmp(p + la + lb, c, lc) == 0;
}

/* Is the rest of a reply [p, end) the expected answer of `kind` for `key`? */
static int kv_answer_ok(const char *p, const char *end, int kind, uint32_t key) {
    const int rpc = opt_mode == MODE_RPCKV;
    const char *ok_pre = rpc ? "{\"_tag\":\"Success\",\"value\":" : "\"success\":";
    const char *ok_post = rpc ? "}}" : "}";
    const char *err_pre = rpc ? "{\"_tag\":\"Failure\",\"cause\":{\"_tag\":\"Fail\",\"error\":" : "\"failure\":";
    const char *err_post = rpc ? "}}}" : "}";
    if (kind == K_GET_HIT) {
        char want[80];
        int n = kv_value(want + 1, sizeof want - 2, key);
        want[0] = '"';
        want[n + 1] = '"';
        want[n + 2] = '\0';
        return kv_body_is(p, end, ok_pre, want, ok_post);
    }
    if (kind == K_PUT_LONG) {
        return kv_body_is(p, end, err_pre, "{\"_tag\":\"TooLong\",\"max\":128}", err_post) ||
               kv_body_is(p, end, err_pre, "{\"max\":128,\"_tag\":\"TooLong\"}", err_post);
    }
    return kv_body_is(p, end, ok_pre, "null", ok_post);
}

static void kv_bad_reply(conn_t *c, const char *why, const uint8_t *msg, size_t len) {
    char text[200];
    size_t n = len < 120 ? len : 120;
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof text - 1; i++) text[o++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? (char)msg[i] : '?';
    text[o] = '\0';
    char full[360];
    snprintf(full, sizeof full, "%s: %s%s", why, text, len > n ? "..." : "");
    conn_close(c, 1, full);
}

/* Checks one reply message. Returns 0, or -1 after closing the connection. */
static int kv_reply(conn_t *c, const uint8_t *msg, size_t len, uint64_t now) {
    const char *p = (const char *)msg, *end = p + len;
    const char *pre = opt_mode == MODE_KV ? "{\"id\":" : "{\"_tag\":\"Exit\",\"requestId\":\"";
    const char *mid = opt_mode == MODE_KV ? "," : "\",\"exit\":";
    size_t pl = strlen(pre);
    uint64_t id;
    if (len < pl || memcmp(p, pre, pl) != 0) { kv_bad_reply(c, "unexpected reply", msg, len); return -1; }
    p += pl;
    if (kv_read_id(&p, end, &id, mid) < 0) { kv_bad_reply(c, "reply without a readable id", msg, len); return -1; }
    kv_conn_t *k = &c->kv;
    if (g_kv_setup) {
        if (id >= KV_KEYS || g_setup_seen[id]) { kv_bad_reply(c, "setup: reply with an unknown or repeated id", msg, len); return -1; }
        if (!kv_answer_ok(p, end, K_PUT, (uint32_t)id)) { kv_bad_reply(c, "setup: wrong answer to Put (expected success null)", msg, len); return -1; }
        g_setup_seen[id] = 1;
        c->inflight--;
        return 0;
    }
    uint32_t slot = (uint32_t)(id % opt_pipeline);
    if (k->slot_id[slot] != id) { kv_bad_reply(c, "reply with an id not in flight", msg, len); return -1; }
    int kind = k->slot_kind[slot];
    if (!kv_answer_ok(p, end, kind, k->slot_key[slot])) {
        char why[96];
        snprintf(why, sizeof why, "wrong answer to %s %s:%u",
                 kind == K_GET_HIT || kind == K_GET_MISS ? "Get" : "Put", kind == K_GET_MISS ? "nokey" : "key", k->slot_key[slot]);
        kv_bad_reply(c, why, msg, len);
        return -1;
    }
    k->slot_id[slot] = UINT64_MAX;
    k->free[k->nfree++] = slot;
    c->inflight--;
    g_completed_all++;
    if (now >= g_meas_start && now < g_meas_end) {
        hist_record(now - c->ts[slot]);
        g_completed++;
        g_kind_done[kind]++;
    }
    if (g_running) kv_enqueue(c, now);
    return 0;
}

/* Parses the complete messages of buf[0, n); returns bytes consumed, or -1 (connection closed). */
static ssize_t kv_parse(conn_t *c, const uint8_t *buf, size_t n, uint64_t now) {
    size_t i = 0;
    for (;;) {
        if (opt_mode == MODE_KV) {
            if (n - i < 4) break;
            uint32_t len = ((uint32_t)buf[i] << 24) | ((uint32_t)buf[i + 1] << 16) | ((uint32_t)buf[i + 2] << 8) | buf[i + 3];
            if (len > KV_MSG_MAX) { conn_close(c, 1, "reply frame above 64 KiB"); return -1; }
            if (n - i - 4 < len) break;
            if (c->inflight == 0) { kv_bad_reply(c, "reply with no request in flight", buf + i + 4, len); return -1; }
            if (kv_reply(c, buf + i + 4, len, now) < 0) return -1;
            i += 4 + len;
        } else {
            const uint8_t *nl = memchr(buf + i, '\n', n - i);
            if (nl == NULL) {
                if (n - i > KV_MSG_MAX) { conn_close(c, 1, "reply line above 64 KiB"); return -1; }
                break;
            }
            size_t len = (size_t)(nl - (buf + i));
            if (c->inflight == 0) { kv_bad_reply(c, "reply with no request in flight", buf + i, len); return -1; }
            if (kv_reply(c, buf + i, len, now) < 0) return -1;
            i += len + 1;
        }
    }
    return (ssize_t)i;
}

/* Feeds n received bytes through the per-connection reassembly buffer. */
static int kv_feed(conn_t *c, const uint8_t *d, size_t n, uint64_t now) {
    kv_conn_t *k = &c->kv;
    const uint8_t *buf = d;
    size_t len = n;
    if (k->in_len > 0) {
        if (k->in_len + n > k->in_cap) {
            size_t cap = k->in_cap * 2 > k->in_len + n ? k->in_cap * 2 : k->in_len + n;
            uint8_t *nb = realloc(k->in, cap);
            if (!nb) { conn_close(c, 1, "out of memory"); return -1; }
            k->in = nb;
            k->in_cap = cap;
        }
        memcpy(k->in + k->in_len, d, n);
        k->in_len += n;
        buf = k->in;
        len = k->in_len;
    }
    ssize_t used = kv_parse(c, buf, len, now);
    if (used < 0) return -1;
    size_t rest = len - (size_t)used;
    if (rest > 0) {
        if (rest > k->in_cap) {
            uint8_t *nb = realloc(k->in, rest);
            if (!nb) { conn_close(c, 1, "out of memory"); return -1; }
            k->in = nb;
            k->in_cap = rest;
        }
        memmove(k->in, buf + used, rest);
    }
    k->in_len = rest;
    return 0;
}

static void kv_on_readable(conn_t *c) {
    for (int iter = 0; iter < 8; iter++) {
        ssize_t n = recv(c->fd, g_rbuf, RBUF_SIZE, 0);
        if (n > 0) {
            if (kv_feed(c, g_rbuf, (size_t)n, now_ns()) < 0) return;
            if ((size_t)n < RBUF_SIZE) break;
            continue;
        }
        if (n == 0) {
            conn_close(c, g_running, "server closed the connection");
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        char why[96];
        snprintf(why, sizeof why, "read failed: %s", strerror(errno));
        conn_close(c, g_running, why);
        return;
    }
    if (c->out_end > c->out_start && !c->out_armed) echo_flush(c);
}

/* Setup on connection c (non-blocking fd): Put every present key, wait for every reply (3 s max). */
static int kv_setup(conn_t *c) {
    size_t cap = (size_t)KV_KEYS * KV_REQ_MAX;
    uint8_t *buf = malloc(cap);
    g_setup_seen = calloc(KV_KEYS, 1);
    if (!buf || !g_setup_seen) { perror("malloc"); exit(1); }
    size_t len = 0;
    for (uint32_t i = 0; i < KV_KEYS; i++) len += kv_encode(buf + len, i, K_PUT, i);
    g_kv_setup = 1;
    c->inflight = KV_KEYS;
    size_t off = 0;
    uint64_t deadline = now_ns() + KV_SETUP_NS;
    while (c->alive && c->inflight > 0) {
        if (now_ns() > deadline) {
            record_error("setup: %u of %u Put replies missing after %.0f s", c->inflight, KV_KEYS, KV_SETUP_NS / 1e9);
            break;
        }
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN | (off < len ? POLLOUT : 0) };
        int r = poll(&pfd, 1, 100);
        if (r < 0 && errno != EINTR) { record_error("setup: poll: %s", strerror(errno)); break; }
        if (r <= 0) continue;
        if (off < len && (pfd.revents & POLLOUT)) {
            ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
            if (n > 0) off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                conn_close(c, 1, "setup: write failed");
                break;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(c->fd, g_rbuf, RBUF_SIZE, 0);
            if (n > 0) {
                if (kv_feed(c, g_rbuf, (size_t)n, 0) < 0) break;
            } else if (n == 0) {
                conn_close(c, 1, "setup: server closed the connection");
                break;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                conn_close(c, 1, "setup: read failed");
                break;
            }
        }
    }
    g_kv_setup = 0;
    free(buf);
    if (c->alive && c->kv.in_len != 0) conn_close(c, 1, "setup: trailing bytes after the last Put reply");
    return g_errors ? -1 : 0;
}

/* ---------- oneway mode ---------- */

/* number of header bytes in stream positions [0, x) */
static inline uint64_t hdr_bytes_before(uint64_t x) {
    uint64_t r = x % g_frame;
    return (x / g_frame) * 4 + (r < 4 ? r : 4);
}

static void oneway_on_writable(conn_t *c, uint64_t now) {
    for (int iter = 0; iter < 64; iter++) {
        size_t want = g_obuf_len - c->off;
        ssize_t n = send(c->fd, g_obuf + c->off, want, MSG_NOSIGNAL);
        if (n > 0) {
            g_bytes_all += (uint64_t)n;
            if (now >= g_meas_start && now < g_meas_end) {
                g_bytes += (uint64_t)n;
                uint64_t hdr = hdr_bytes_before(c->off + (uint64_t)n) - hdr_bytes_before(c->off);
                g_payload_bytes += (uint64_t)n - hdr;
            }
            c->off = (c->off + (size_t)n) % g_frame;
            if ((size_t)n < want) return; /* socket buffer full; wait for EPOLLOUT */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        char why[96];
        snprintf(why, sizeof why, "write failed: %s", n == 0 ? "zero write" : strerror(errno));
        conn_close(c, 1, why);
        return;
    }
}

static void oneway_on_readable(conn_t *c) {
    for (;;) {
        ssize_t n = recv(c->fd, g_rbuf, RBUF_SIZE, 0);
        if (n > 0) continue; /* a sink server should not write; discard */
        if (n == 0) {
            conn_close(c, 1, "server closed the connection");
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        char why[96];
        snprintf(why, sizeof why, "read failed: %s", strerror(errno));
        conn_close(c, 1, why);
        return;
    }
}

/* ---------- TLS (--tls, --handshake) ---------- */

#define TLS_SETUP_NS 3000000000ull  /* --tls: every connection's handshake before the clock, 3 s in all */
#define HS_CONN_NS 2000000000ull    /* --handshake: connect to close of one connection */

static uint64_t g_hs_close_resets = 0;  /* connections the server reset instead of closing */
static char g_tls_version[32] = "";     /* what the first handshake negotiated, for the report */
static char g_tls_cipher[64] = "";

#ifdef LOADGEN_TLS

enum { HS_CONNECTING = 0, HS_HANDSHAKE = 1, HS_REQUEST = 2, HS_CLOSING = 3 };
static const char *const hs_state_name[] = {"connect", "handshake", "reply", "close"};

static uint32_t g_hs_seq = 0;           /* sequence number of the next connection's request */
static SSL_CTX *g_ssl_ctx = NULL;

static void tls_init(void) {
    g_ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!g_ssl_ctx) { fprintf(stderr, "loadgen: SSL_CTX_new failed\n"); exit(1); }
    SSL_CTX_set_min_proto_version(g_ssl_ctx, TLS1_2_VERSION);
    /* the output buffer is appended to (and compacted) while a write waits for
       EPOLLOUT: a retried SSL_write sees the same pending bytes, maybe moved and
       with more behind them */
    SSL_CTX_set_mode(g_ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* read whole socket buffers, not one record header and body at a time: fewer
       syscalls on the client's core; tls_on_readable drains until WANT_READ, so
       nothing is left behind in OpenSSL's buffer */
    SSL_CTX_set_read_ahead(g_ssl_ctx, 1);
    /* a close without close_notify is a plain EOF: replies are checked frame by
       frame here, so truncation is caught anyway, and --handshake accepts either */
    SSL_CTX_set_options(g_ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* no sessions kept: --handshake measures full handshakes */
    SSL_CTX_set_session_cache_mode(g_ssl_ctx, SSL_SESS_CACHE_OFF);
    if (opt_tls_ca) {
        if (SSL_CTX_load_verify_locations(g_ssl_ctx, opt_tls_ca, NULL) != 1) {
            char msg[300];
            snprintf(msg, sizeof msg, "--tls-ca %s: cannot load it (%s)", opt_tls_ca, ERR_reason_error_string(ERR_get_error()));
            die_usage(msg);
        }
        SSL_CTX_set_verify(g_ssl_ctx, SSL_VERIFY_PEER, NULL);
        /* we connect by IP address: the certificate must list it */
        X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(g_ssl_ctx), opt_host);
    } else {
        SSL_CTX_set_verify(g_ssl_ctx, SSL_VERIFY_NONE, NULL);
    }
}

static void tls_free(conn_t *c) {
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
}

static int tls_attach(conn_t *c) {
    c->ssl = SSL_new(g_ssl_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        conn_close(c, 1, "SSL_new failed");
        return -1;
    }
    SSL_set_connect_state(c->ssl);
    c->read_wants_out = 0;
    return 0;
}

static void tls_note_session(conn_t *c) {
    if (g_tls_version[0]) return;
    snprintf(g_tls_version, sizeof g_tls_version, "%s", SSL_get_version(c->ssl));
    snprintf(g_tls_cipher, sizeof g_tls_cipher, "%s", SSL_get_cipher_name(c->ssl));
}

/* Closes c with what OpenSSL says went wrong (err: SSL_get_error, sys: errno right after the call). */
static void tls_fail(conn_t *c, const char *what, int err, int sys, int is_error) {
    char why[300];
    unsigned long code = ERR_get_error();
    long verify = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    if (code) {
        char text[200];
        ERR_error_string_n(code, text, sizeof text);
        snprintf(why, sizeof why, "%s: %s%s%s", what, text, verify != X509_V_OK ? ": " : "",
                 verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "");
    } else if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && sys == 0)) {
        snprintf(why, sizeof why, "%s: server closed the connection", what);
    } else if (err == SSL_ERROR_SYSCALL) {
        snprintf(why, sizeof why, "%s: %s", what, strerror(sys));
    } else {
        snprintf(why, sizeof why, "%s: SSL error %d", what, err);
    }
    conn_close(c, is_error, why);
}

/* Writes the pending requests; a write that must wait keeps them for EPOLLOUT (or EPOLLIN). */
static void tls_flush(conn_t *c) {
    while (c->out_end > c->out_start) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_write_ex(c->ssl, c->out + c->out_start, c->out_end - c->out_start, &n);
        if (r == 1) {
            c->out_start += n;
            continue;
        }
        int sys = errno, err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_WRITE) {
            conn_set_out(c, 1);
            return;
        }
        /* TLS wants to read first: tls_on_readable retries on the next EPOLLIN */
        if (err == SSL_ERROR_WANT_READ) return;
        tls_fail(c, "TLS write", err, sys, 1);
        return;
    }
    c->out_start = c->out_end = 0;
    conn_set_out(c, c->read_wants_out);
}

/* Reads and checks replies until OpenSSL needs the socket again, then writes what they made due. */
static void tls_on_readable(conn_t *c) {
    c->read_wants_out = 0;
    for (;;) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_read_ex(c->ssl, g_rbuf, RBUF_SIZE, &n);
        if (r == 1) {
            if (echo_parse(c, g_rbuf, n, now_ns()) < 0) return;
            continue;
        }
        int sys = errno, err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_READ) break;
        if (err == SSL_ERROR_WANT_WRITE) {
            c->read_wants_out = 1;
            conn_set_out(c, 1);
            break;
        }
        tls_fail(c, "TLS read", err, sys, g_running);
        return;
    }
    if (c->out_end > c->out_start && !c->out_armed) tls_flush(c);
}

static void tls_on_event(conn_t *c, uint32_t e) {
    if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || ((e & EPOLLOUT) && c->read_wants_out)) tls_on_readable(c);
    if (c->alive && (e & EPOLLOUT)) tls_flush(c);
}

/* --tls: handshake on every connection before the clock starts (poll, non-blocking fd). */
static int tls_setup(void) {
    uint64_t deadline = now_ns() + TLS_SETUP_NS;
    for (int i = 0; i < opt_conns && !g_errors; i++) {
        conn_t *c = &g_conns[i];
        if (tls_attach(c) < 0) break;
        for (;;) {
            ERR_clear_error();
            int r = SSL_connect(c->ssl);
            if (r == 1) {
                tls_note_session(c);
                break;
            }
            int sys = errno, err = SSL_get_error(c->ssl, r);
            short want = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
            if (!want) {
                tls_fail(c, "TLS handshake", err, sys, 1);
                break;
            }
            if (now_ns() > deadline) {
                conn_close(c, 1, "TLS handshake: not done within 3 s");
                break;
            }
            struct pollfd pfd = { .fd = c->fd, .events = want };
            if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
                record_error("TLS handshake: poll: %s", strerror(errno));
                break;
            }
        }
    }
    return g_errors ? -1 : 0;
}

/* ----- --handshake: one request per connection ----- */

/* Starts the slot's next connection (non-blocking connect; EPOLLOUT says it is up). */
static void hs_open(conn_t *c, uint64_t now) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        record_error("socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->alive = 1;
    g_alive++;
    c->t_open = now;
    c->hs_state = HS_CONNECTING;
    c->hs_shutdown_sent = 0;
    c->out_start = c->out_end = 0;
    c->hdr_got = c->pay_got = 0;
    c->inflight = 0;
    c->sent_seq = c->recv_seq = g_hs_seq++;
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
    ev.data.ptr = c;
    c->out_armed = 1;
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        char why[96];
        snprintf(why, sizeof why, "epoll_ctl: %s", strerror(errno));
        conn_close(c, 1, why);
        return;
    }
    if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) != 0 && errno != EINPROGRESS) {
        char why[128];
        snprintf(why, sizeof why, "connect %s:%d: %s", opt_host, opt_port, strerror(errno));
        conn_close(c, 1, why);
    }
}

static void hs_finish(conn_t *c) {
    conn_close(c, 0, NULL);
    if (g_running) hs_open(c, now_ns());
}

/* Sends close_notify, then waits for the server's close (its close_notify or FIN). */
static void hs_close_step(conn_t *c) {
    if (!c->hs_shutdown_sent) {
        ERR_clear_error();
        int r = SSL_shutdown(c->ssl);
        if (r < 0) {
            int sys = errno, err = SSL_get_error(c->ssl, r);
            if (err == SSL_ERROR_WANT_WRITE) { conn_set_out(c, 1); return; }
            if (err != SSL_ERROR_WANT_READ) { tls_fail(c, "TLS close", err, sys, g_running); return; }
        }
        c->hs_shutdown_sent = 1;
        conn_set_out(c, 0);
        if (r == 1) { hs_finish(c); return; }
    }
    for (;;) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_read_ex(c->ssl, g_rbuf, RBUF_SIZE, &n);
        if (r == 1) {
            conn_close(c, g_running, "data after the reply");
            return;
        }
        int sys = errno, err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_READ) return;
        if (err == SSL_ERROR_WANT_WRITE) { conn_set_out(c, 1); return; }
        if (err == SSL_ERROR_ZERO_RETURN) { hs_finish(c); return; }
        /* the reply was checked; a reset instead of a close is counted, not failed */
        if (err == SSL_ERROR_SYSCALL && (sys == ECONNRESET || sys == EPIPE)) {
            g_hs_close_resets++;
            hs_finish(c);
            return;
        }
        tls_fail(c, "TLS close", err, sys, g_running);
        return;
    }
}

static void hs_handshake_step(conn_t *c) {
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        tls_note_session(c);
        c->hs_state = HS_REQUEST;
        uint64_t now = now_ns();
        echo_enqueue(c, now);
        c->ts[0] = c->t_open;   /* latency: connect() to checked reply */
        tls_flush(c);
        return;
    }
    int sys = errno, err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ) conn_set_out(c, 0);
    else if (err == SSL_ERROR_WANT_WRITE) conn_set_out(c, 1);
    else tls_fail(c, "TLS handshake", err, sys, g_running);
}

static void hs_on_event(conn_t *c, uint32_t e) {
    switch (c->hs_state) {
    case HS_CONNECTING: {
        if (!(e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            char why[128];
            snprintf(why, sizeof why, "connect %s:%d: %s", opt_host, opt_port, strerror(err));
            conn_close(c, g_running, why);
            return;
        }
        if (tls_attach(c) < 0) return;
        c->hs_state = HS_HANDSHAKE;
        hs_handshake_step(c);
        return;
    }
    case HS_HANDSHAKE:
        hs_handshake_step(c);
        return;
    case HS_REQUEST:
        tls_on_event(c, e);
        if (c->alive && c->inflight == 0) {
            c->hs_state = HS_CLOSING;
            hs_close_step(c);
        }
        return;
    default:
        hs_close_step(c);
        return;
    }
}

/* A connection still open 2 s after its connect() is stuck in some phase: an error. */
static void hs_check_deadlines(uint64_t now) {
    for (int i = 0; i < opt_conns; i++) {
        conn_t *c = &g_conns[i];
        if (!c->alive || now - c->t_open < HS_CONN_NS) continue;
        char why[128];
        snprintf(why, sizeof why, "connection #%u not done within %.0f s of its connect (stuck in %s)",
                 c->sent_seq, HS_CONN_NS / 1e9, hs_state_name[c->hs_state]);
        conn_close(c, 1, why);
    }
}

#else /* !LOADGEN_TLS: --tls is refused in parse_args; these are never reached */

static void tls_init(void) {}
static void tls_free(conn_t *c) { (void)c; }
static void tls_flush(conn_t *c) { (void)c; }
static void tls_on_event(conn_t *c, uint32_t e) { (void)c; (void)e; }
static int tls_setup(void) { return -1; }
static void hs_open(conn_t *c, uint64_t now) { (void)c; (void)now; }
static void hs_on_event(conn_t *c, uint32_t e) { (void)c; (void)e; }
static void hs_check_deadlines(uint64_t now) { (void)now; }

#endif

/* ---------- main ---------- */

static double parse_num(const char *name, const char *v, double lo, double hi) {
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end != '\0' || !(d >= lo && d <= hi)) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid value for %s: '%s' (allowed %g..%g)", name, v, lo, hi);
        die_usage(msg);
    }
    return d;
}

static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) { opt_json = 1; continue; }
        if (strcmp(a, "--busy-poll") == 0) { opt_busy_poll = 1; continue; }
        if (strcmp(a, "--tls") == 0) { opt_tls = 1; continue; }
        if (strcmp(a, "--handshake") == 0) { opt_handshake = 1; continue; }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) die_usage("help");
        if (i + 1 >= argc) {
            char msg[128];
            snprintf(msg, sizeof msg, "missing value for %s", a);
            die_usage(msg);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0) opt_host = v;
        else if (strcmp(a, "--port") == 0) opt_port = (int)parse_num(a, v, 1, 65535);
        else if (strcmp(a, "--conns") == 0) opt_conns = (int)parse_num(a, v, 1, 10000);
        else if (strcmp(a, "--size") == 0) opt_size = (uint32_t)parse_num(a, v, 0, 16 * 1024 * 1024);
        else if (strcmp(a, "--pipeline") == 0) opt_pipeline = (uint32_t)parse_num(a, v, 1, 4096);
        else if (strcmp(a, "--duration") == 0) opt_duration = parse_num(a, v, 0.1, 3600);
        else if (strcmp(a, "--warmup") == 0) opt_warmup = parse_num(a, v, 0, 3600);
        else if (strcmp(a, "--tls-ca") == 0) opt_tls_ca = v;
        else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "echo") == 0) opt_mode = MODE_ECHO;
            else if (strcmp(v, "oneway") == 0) opt_mode = MODE_ONEWAY;
            else if (strcmp(v, "kv") == 0) opt_mode = MODE_KV;
            else if (strcmp(v, "rpc-kv") == 0) opt_mode = MODE_RPCKV;
            else die_usage("--mode must be echo, oneway, kv or rpc-kv");
        } else {
            char msg[128];
            snprintf(msg, sizeof msg, "unknown option %s", a);
            die_usage(msg);
        }
    }
    if (opt_port == 0) die_usage("--port is required");
#ifndef LOADGEN_TLS
    if (opt_tls || opt_handshake || opt_tls_ca)
        die_usage("--tls: this loadgen was built without OpenSSL (install libssl-dev and rebuild)");
#endif
    if ((opt_handshake || opt_tls_ca) && !opt_tls) die_usage("--handshake and --tls-ca need --tls");
    if (opt_tls && opt_mode != MODE_ECHO) die_usage("--tls supports --mode echo only");
    if (opt_handshake && opt_pipeline != 1) die_usage("--handshake sends one request per connection: --pipeline must be 1");
}

/* Share of one core the load generator used from the first request to the end: near 100%
   it, not the server, may be the limit (TLS puts the client's crypto on the same core). */
static double g_cpu_pct = 0.0;

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void print_tls_json(void) {
    printf("\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\",\"verified\":%s,\"handshake\":%s,\"close_resets\":%llu},"
           "\"loadgen_cpu_pct\":%.1f,",
           g_tls_version, g_tls_cipher, opt_tls_ca ? "true" : "false", opt_handshake ? "true" : "false",
           (unsigned long long)g_hs_close_resets, g_cpu_pct);
}

static void print_result(double window_s) {
    const char *mode = opt_mode == MODE_ECHO ? "echo" : opt_mode == MODE_ONEWAY ? "oneway" : opt_mode == MODE_KV ? "kv" : "rpc-kv";
    const int kv = opt_mode == MODE_KV || opt_mode == MODE_RPCKV;
    if (opt_mode != MODE_ONEWAY) {
        double rps = (double)g_completed / window_s;
        double p50 = hist_quantile_us(0.50), p99 = hist_quantile_us(0.99),
               p999 = hist_quantile_us(0.999);
        double mean = g_hist_count ? (double)g_hist_sum / (double)g_hist_count / 1000.0 : 0.0;
        double max = (double)g_hist_max / 1000.0;
        if (opt_json) {
            printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%u,\"pipeline\":%u,"
                   "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"requests\":%llu,\"rps\":%.1f,"
                   "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"mean_us\":%.1f,\"max_us\":%.1f,"
                   "\"errors\":%llu,",
                   mode, opt_conns, opt_size, opt_pipeline, window_s, opt_warmup,
                   (unsigned long long)g_completed, rps, p50, p99, p999, mean, max,
                   (unsigned long long)g_errors);
            if (opt_tls) print_tls_json();
            if (kv) {
                printf("\"mix\":{");
                for (int k = 0; k < K_KINDS; k++)
                    printf("%s\"%s\":%llu", k ? "," : "", k_kind_name[k], (unsigned long long)g_kind_done[k]);
                printf("},");
            }
            printf("\"error\":");
        } else {
            printf("mode=%s conns=%d size=%u pipeline=%u duration=%.1fs warmup=%.1fs\n"
                   "requests=%llu rps=%.0f p50=%.1fus p99=%.1fus p99.9=%.1fus mean=%.1fus max=%.1fus errors=%llu\n",
                   mode, opt_conns, opt_size, opt_pipeline, window_s, opt_warmup,
                   (unsigned long long)g_completed, rps, p50, p99, p999, mean, max,
                   (unsigned long long)g_errors);
            if (kv) {
                for (int k = 0; k < K_KINDS; k++)
                    printf("%s%s=%llu", k ? " " : "mix: ", k_kind_name[k], (unsigned long long)g_kind_done[k]);
                printf("\n");
            }
            if (opt_tls)
                printf("tls: %s %s%s close_resets=%llu loadgen_cpu=%.0f%%\n", g_tls_version[0] ? g_tls_version : "-",
                       g_tls_cipher[0] ? g_tls_cipher : "-", opt_handshake ? " handshake (rps = handshakes/s)" : "",
                       (unsigned long long)g_hs_close_resets, g_cpu_pct);
        }
    } else {
        double mbps = (double)g_payload_bytes / 1e6 / window_s;
        if (opt_json) {
            printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%u,\"pipeline\":%u,"
                   "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"bytes\":%llu,\"payload_bytes\":%llu,"
                   "\"frames\":%.1f,\"mb_per_s\":%.1f,\"errors\":%llu,\"error\":",
                   mode, opt_conns, opt_size, opt_pipeline, window_s, opt_warmup,
                   (unsigned long long)g_bytes, (unsigned long long)g_payload_bytes,
                   (double)g_bytes / (double)g_frame, mbps, (unsigned long long)g_errors);
        } else {
            printf("mode=oneway conns=%d size=%u duration=%.1fs warmup=%.1fs\n"
                   "bytes=%llu payload_bytes=%llu MB/s=%.1f errors=%llu\n",
                   opt_conns, opt_size, window_s, opt_warmup, (unsigned long long)g_bytes,
                   (unsigned long long)g_payload_bytes, mbps, (unsigned long long)g_errors);
        }
    }
    if (opt_json) {
        if (g_first_error[0]) {
            putchar('"');
            for (const char *p = g_first_error; *p; p++) {
                if (*p == '"' || *p == '\\') putchar('\\');
                if ((unsigned char)*p >= 0x20) putchar(*p);
            }
            putchar('"');
        } else {
            fputs("null", stdout);
        }
        fputs("}\n", stdout);
    } else if (g_first_error[0]) {
        printf("first error: %s\n", g_first_error);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)ceil(opt_duration + opt_warmup) + 5u);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt_port);
    if (inet_pton(AF_INET, opt_host, &addr.sin_addr) != 1) die_usage("--host must be an IPv4 literal");
    if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) die_usage("--host must be a loopback address (127.x.x.x)");
    g_addr = addr;

    g_frame = 4 + (size_t)opt_size;

    if (opt_mode == MODE_ECHO) {
        g_tpl = malloc(g_frame);
        if (!g_tpl) { perror("malloc"); return 1; }
        g_tpl[0] = (uint8_t)(opt_size >> 24);
        g_tpl[1] = (uint8_t)(opt_size >> 16);
        g_tpl[2] = (uint8_t)(opt_size >> 8);
        g_tpl[3] = (uint8_t)opt_size;
        for (uint32_t i = 0; i < opt_size; i++) g_tpl[4 + i] = (uint8_t)(i * 131u + 17u);
        uint32_t cand[6] = {0, 1, 2, 3, opt_size / 2, opt_size ? opt_size - 1 : 0};
        for (int k = 0; k < 6; k++) {
            if (cand[k] >= opt_size) continue;
            int dup = 0;
            for (int j = 0; j < g_ncheck; j++) dup |= g_check[j] == cand[k];
            if (!dup) g_check[g_ncheck++] = cand[k];
        }
    } else if (opt_mode == MODE_KV || opt_mode == MODE_RPCKV) {
        memset(g_long_value, 'L', KV_LONG_LEN);
        g_long_value[KV_LONG_LEN] = '\0';
    } else {
        /* K whole frames back to back, about 1 MiB, so one write() can fill the socket buffer */
        size_t k = (1024 * 1024) / g_frame;
        if (k < 1) k = 1;
        g_obuf_len = k * g_frame;
        g_obuf = malloc(g_obuf_len);
        if (!g_obuf) { perror("malloc"); return 1; }
        for (size_t f = 0; f < k; f++) {
            uint8_t *p = g_obuf + f * g_frame;
            p[0] = (uint8_t)(opt_size >> 24);
            p[1] = (uint8_t)(opt_size >> 16);
            p[2] = (uint8_t)(opt_size >> 8);
            p[3] = (uint8_t)opt_size;
            for (uint32_t i = 0; i < opt_size; i++) p[4 + i] = (uint8_t)(i * 131u + 17u);
        }
    }

    if (opt_tls) tls_init();

    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_epfd < 0) { perror("epoll_create1"); return 1; }
    g_conns = calloc((size_t)opt_conns, sizeof(conn_t));
    if (!g_conns) { perror("calloc"); return 1; }

    for (int i = 0; i < opt_conns; i++) {
        conn_t *c = &g_conns[i];
        c->id = i;
        if (opt_handshake) {
            /* slots: each opens its connections once the clock runs (hs_open) */
            c->fd = -1;
            c->out_cap = g_frame;
            c->out = malloc(c->out_cap);
            c->ts = calloc(1, sizeof(uint64_t));
            if (!c->out || !c->ts) { perror("malloc"); return 1; }
            continue;
        }
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) { record_error("socket: %s", strerror(errno)); break; }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            record_error("connect %s:%d (conn %d): %s", opt_host, opt_port, i, strerror(errno));
            close(c->fd);
            break;
        }
        int fl = fcntl(c->fd, F_GETFL, 0);
        fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
        c->alive = 1;
        g_alive++;
        if (opt_mode == MODE_ECHO) {
            c->out_cap = (size_t)opt_pipeline * g_frame;
            c->out = malloc(c->out_cap);
            c->ts = calloc(opt_pipeline, sizeof(uint64_t));
            if (!c->out || !c->ts) { perror("malloc"); return 1; }
        } else if (opt_mode == MODE_KV || opt_mode == MODE_RPCKV) {
            kv_conn_t *k = &c->kv;
            c->out_cap = ((size_t)opt_pipeline + 1) * KV_REQ_MAX;
            c->out = malloc(c->out_cap);
            c->ts = calloc(opt_pipeline, sizeof(uint64_t));
            k->slot_id = malloc(opt_pipeline * sizeof(uint64_t));
            k->slot_kind = calloc(opt_pipeline, 1);
            k->slot_key = calloc(opt_pipeline, sizeof(uint32_t));
            k->free = malloc(opt_pipeline * sizeof(uint32_t));
            k->in_cap = 4096;
            k->in = malloc(k->in_cap);
            if (!c->out || !c->ts || !k->slot_id || !k->slot_kind || !k->slot_key || !k->free || !k->in) { perror("malloc"); return 1; }
            for (uint32_t s = 0; s < opt_pipeline; s++) {
                k->slot_id[s] = UINT64_MAX;
                k->free[opt_pipeline - 1 - s] = s;   /* slot 0 on top */
            }
            k->nfree = opt_pipeline;
            k->rng = ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull;
        }
        struct epoll_event ev;
        ev.events = EPOLLIN | EPOLLRDHUP | (opt_mode == MODE_ONEWAY ? EPOLLOUT : 0);
        ev.data.ptr = c;
        c->out_armed = opt_mode == MODE_ONEWAY;
        if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            perror("epoll_ctl");
            return 1;
        }
    }
    if (g_errors) {
        /* connect failures: nothing meaningful to measure */
        for (int i = 0; i < opt_conns; i++) if (g_conns[i].alive) close(g_conns[i].fd);
        opt_duration = opt_duration > 0 ? opt_duration : 1;
        print_result(opt_duration);
        return 1;
    }

    if ((opt_mode == MODE_KV || opt_mode == MODE_RPCKV) && kv_setup(&g_conns[0]) < 0) {
        for (int i = 0; i < opt_conns; i++) if (g_conns[i].alive) close(g_conns[i].fd);
        print_result(opt_duration);
        return 1;
    }

    if (opt_tls && !opt_handshake && tls_setup() < 0) {
        for (int i = 0; i < opt_conns; i++) if (g_conns[i].alive) close(g_conns[i].fd);
        print_result(opt_duration);
        return 1;
    }

    double cpu0 = cpu_seconds();
    uint64_t t0 = now_ns();
    g_meas_start = t0 + (uint64_t)(opt_warmup * 1e9);
    g_meas_end = g_meas_start + (uint64_t)(opt_duration * 1e9);

    if (opt_handshake) {
        for (int i = 0; i < opt_conns; i++) hs_open(&g_conns[i], t0);
    } else if (opt_mode == MODE_ECHO) {
        for (int i = 0; i < opt_conns; i++) {
            conn_t *c = &g_conns[i];
            for (uint32_t k = 0; k < opt_pipeline; k++) echo_enqueue(c, t0);
            if (opt_tls) tls_flush(c);
            else echo_flush(c);
        }
    } else if (opt_mode == MODE_KV || opt_mode == MODE_RPCKV) {
        for (int i = 0; i < opt_conns; i++) {
            conn_t *c = &g_conns[i];
            for (uint32_t k = 0; k < opt_pipeline; k++) kv_enqueue(c, t0);
            echo_flush(c);
        }
    }

    struct epoll_event evs[256];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= g_meas_end) break;
        if (g_alive == 0) break;
        uint64_t left_ms = (g_meas_end - now) / 1000000ull + 1;
        int timeout = left_ms > 100 ? 100 : (int)left_ms;
        int n = epoll_wait(g_epfd, evs, 256, opt_busy_poll ? 0 : timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            record_error("epoll_wait: %s", strerror(errno));
            break;
        }
        if (opt_mode == MODE_ONEWAY) now = now_ns();
        for (int k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            uint32_t e = evs[k].events;
            if (!c->alive) continue;
            if (opt_handshake) {
                hs_on_event(c, e);
            } else if (opt_tls) {
                tls_on_event(c, e);
            } else if (opt_mode == MODE_ECHO) {
                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) echo_on_readable(c);
                if (c->alive && (e & EPOLLOUT)) echo_flush(c);
            } else if (opt_mode != MODE_ONEWAY) {
                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) kv_on_readable(c);
                if (c->alive && (e & EPOLLOUT)) echo_flush(c);
            } else {
                if (e & EPOLLOUT) oneway_on_writable(c, now);
                if (c->alive && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) oneway_on_readable(c);
            }
        }
        if (opt_handshake) hs_check_deadlines(now_ns());
    }
    g_running = 0;
    uint64_t t_end = now_ns();
    if (t_end > t0) g_cpu_pct = 100.0 * (cpu_seconds() - cpu0) / ((double)(t_end - t0) / 1e9);

    /* measured window actually covered (shorter if every connection died early) */
    double window_s = opt_duration;
    if (t_end < g_meas_end) {
        window_s = t_end > g_meas_start ? (double)(t_end - g_meas_start) / 1e9 : 0.0;
        if (g_alive == 0 && g_errors == 0) record_error("all connections closed before the end of the run");
    }
    if (window_s <= 0.0) {
        if (g_errors == 0) record_error("run ended before the measured window started");
        window_s = opt_duration;
    }
    if ((opt_mode == MODE_KV || opt_mode == MODE_RPCKV) && g_errors == 0) {
        /* drain: no new requests; every request in flight must get its (checked) reply
           within KV_DRAIN_NS, else a reply was lost */
        uint64_t deadline = now_ns() + KV_DRAIN_NS;
        for (;;) {
            uint32_t pending = 0;
            for (int i = 0; i < opt_conns; i++) if (g_conns[i].alive) pending += g_conns[i].inflight;
            if (pending == 0 || g_errors) break;
            uint64_t now = now_ns();
            if (now >= deadline) {
                for (int i = 0; i < opt_conns; i++) {
                    conn_t *c = &g_conns[i];
                    if (!c->alive || c->inflight == 0) continue;
                    for (uint32_t s = 0; s < opt_pipeline; s++) {
                        if (c->kv.slot_id[s] == UINT64_MAX) continue;
                        record_error("conn %d: no reply to request id %llu within %.0f s after the run (%u requests unanswered)",
                                     c->id, (unsigned long long)c->kv.slot_id[s], KV_DRAIN_NS / 1e9, pending);
                        break;
                    }
                    break;
                }
                break;
            }
            int n = epoll_wait(g_epfd, evs, 256, 50);
            if (n < 0 && errno != EINTR) break;
            for (int k = 0; k < n; k++) {
                conn_t *c = evs[k].data.ptr;
                if (!c->alive) continue;
                if (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) kv_on_readable(c);
                if (c->alive && (evs[k].events & EPOLLOUT)) echo_flush(c);
            }
        }
    }
    if (opt_mode != MODE_ONEWAY && g_completed == 0 && g_errors == 0)
        record_error("no responses completed in the measured window (%llu in total)",
                     (unsigned long long)g_completed_all);
    if (opt_mode == MODE_ONEWAY && g_bytes == 0 && g_errors == 0)
        record_error("no bytes written in the measured window");

    for (int i = 0; i < opt_conns; i++) {
        if (g_conns[i].alive) {
            tls_free(&g_conns[i]);
            close(g_conns[i].fd);
            g_conns[i].alive = 0;
        }
    }
    print_result(window_s);
    return g_errors ? 1 : 0;
}
