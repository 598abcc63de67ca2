/*
 * wirekit bench load generator: single-threaded epoll TCP client.
 *
 *   loadgen --host 127.0.0.1 --port N --conns C --size S --pipeline P
 *           --duration SECS --warmup SECS --mode echo|oneway [--json] [--busy-poll]
 *
 * Wire format (both modes): frame = 4-byte big-endian length + S payload bytes.
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
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------- options ---------- */

enum { MODE_ECHO = 0, MODE_ONEWAY = 1 };

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
            "               --duration SECS --warmup SECS --mode echo|oneway [--json] [--busy-poll]\n");
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
} conn_t;

static int g_epfd = -1;
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

static void conn_close(conn_t *c, int is_error, const char *why) {
    if (!c->alive) return;
    if (is_error) record_error("conn %d: %s", c->id, why);
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
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
    if (g_running) echo_enqueue(c, now);
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
        else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "echo") == 0) opt_mode = MODE_ECHO;
            else if (strcmp(v, "oneway") == 0) opt_mode = MODE_ONEWAY;
            else die_usage("--mode must be echo or oneway");
        } else {
            char msg[128];
            snprintf(msg, sizeof msg, "unknown option %s", a);
            die_usage(msg);
        }
    }
    if (opt_port == 0) die_usage("--port is required");
}

static void print_result(double window_s) {
    const char *mode = opt_mode == MODE_ECHO ? "echo" : "oneway";
    if (opt_mode == MODE_ECHO) {
        double rps = (double)g_completed / window_s;
        double p50 = hist_quantile_us(0.50), p99 = hist_quantile_us(0.99),
               p999 = hist_quantile_us(0.999);
        double mean = g_hist_count ? (double)g_hist_sum / (double)g_hist_count / 1000.0 : 0.0;
        double max = (double)g_hist_max / 1000.0;
        if (opt_json) {
            printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%u,\"pipeline\":%u,"
                   "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"requests\":%llu,\"rps\":%.1f,"
                   "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"mean_us\":%.1f,\"max_us\":%.1f,"
                   "\"errors\":%llu,\"error\":",
                   mode, opt_conns, opt_size, opt_pipeline, window_s, opt_warmup,
                   (unsigned long long)g_completed, rps, p50, p99, p999, mean, max,
                   (unsigned long long)g_errors);
        } else {
            printf("mode=echo conns=%d size=%u pipeline=%u duration=%.1fs warmup=%.1fs\n"
                   "requests=%llu rps=%.0f p50=%.1fus p99=%.1fus p99.9=%.1fus mean=%.1fus max=%.1fus errors=%llu\n",
                   opt_conns, opt_size, opt_pipeline, window_s, opt_warmup,
                   (unsigned long long)g_completed, rps, p50, p99, p999, mean, max,
                   (unsigned long long)g_errors);
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

    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_epfd < 0) { perror("epoll_create1"); return 1; }
    g_conns = calloc((size_t)opt_conns, sizeof(conn_t));
    if (!g_conns) { perror("calloc"); return 1; }

    for (int i = 0; i < opt_conns; i++) {
        conn_t *c = &g_conns[i];
        c->id = i;
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

    uint64_t t0 = now_ns();
    g_meas_start = t0 + (uint64_t)(opt_warmup * 1e9);
    g_meas_end = g_meas_start + (uint64_t)(opt_duration * 1e9);

    if (opt_mode == MODE_ECHO) {
        for (int i = 0; i < opt_conns; i++) {
            conn_t *c = &g_conns[i];
            for (uint32_t k = 0; k < opt_pipeline; k++) echo_enqueue(c, t0);
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
            if (opt_mode == MODE_ECHO) {
                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) echo_on_readable(c);
                if (c->alive && (e & EPOLLOUT)) echo_flush(c);
            } else {
                if (e & EPOLLOUT) oneway_on_writable(c, now);
                if (c->alive && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) oneway_on_readable(c);
            }
        }
    }
    g_running = 0;
    uint64_t t_end = now_ns();

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
    if (opt_mode == MODE_ECHO && g_completed == 0 && g_errors == 0)
        record_error("no responses completed in the measured window (%llu in total)",
                     (unsigned long long)g_completed_all);
    if (opt_mode == MODE_ONEWAY && g_bytes == 0 && g_errors == 0)
        record_error("no bytes written in the measured window");

    for (int i = 0; i < opt_conns; i++) {
        if (g_conns[i].alive) {
            close(g_conns[i].fd);
            g_conns[i].alive = 0;
        }
    }
    print_result(window_s);
    return g_errors ? 1 : 0;
}
