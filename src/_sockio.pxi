# Included by src/_wts.pyx: one SMB exchange on a connected socket with the GIL released once.
#
# The tsts client's Wire (wts._tsts._smbio) sends a request and reads its answer.  Through Python's
# socket methods that is half a dozen GIL releases a call (the idle check, the send, the wait and the
# read, each a release and a re-acquire), and with the engine's workers all wanting the GIL each
# re-acquire is a thread switch: a quarter of a warm call's CPU went to switching.  Here the idle
# check, the send, the waits and the reads of one exchange run in C without the GIL, until the
# buffer holds one whole Direct TCP frame (a 4-byte length and an SMB2 message).
#
# POSIX only (poll, send and recv with MSG_DONTWAIT, so the socket may be in either mode: the Wire's
# is non-blocking, smbprotocol's blocking); elsewhere SOCK_EXCHANGE is False and the tsts client
# keeps Python's socket methods.  The descriptor is read by the caller with the GIL held, right
# before the call, as CPython's own socket methods do.

cdef extern from *:
    """
    enum {
        WTS_SX_OK = 0,          /* the buffer holds a whole frame */
        WTS_SX_GONE = 1,        /* before sending: the peer had closed (or reset) the connection */
        WTS_SX_SEND_FAILED = 2, /* the request could not be sent (err, or ETIMEDOUT) */
        WTS_SX_TIMEOUT = 3,     /* no whole frame within the timeout */
        WTS_SX_EOF = 4,         /* the peer closed the connection mid-answer */
        WTS_SX_RECV_FAILED = 5, /* err */
        WTS_SX_BAD_FRAME = 6,   /* the first byte is not a Direct TCP frame's zero */
        WTS_SX_FULL = 7,        /* the frame is larger than the buffer: grow it and call again */
        WTS_SX_UNSUPPORTED = 8
    };
    #if defined(_WIN32)
    #define WTS_SX_AVAILABLE 0
    static int wts_sock_exchange(long fd, const unsigned char *out, size_t outlen, int check_gone,
                                 unsigned char *buf, size_t cap, size_t *have, double timeout,
                                 int *err, size_t *sent)
    {
        (void)fd; (void)out; (void)outlen; (void)check_gone; (void)buf; (void)cap; (void)have;
        (void)timeout; *err = 0; *sent = 0;
        return WTS_SX_UNSUPPORTED;
    }
    #else
    #define WTS_SX_AVAILABLE 1
    #include <errno.h>
    #include <poll.h>
    #include <sys/socket.h>
    #include <time.h>
    #ifndef MSG_NOSIGNAL
    #define MSG_NOSIGNAL 0 /* macOS: Python ignores SIGPIPE */
    #endif

    static double wts_sx_now(void)
    {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
    }

    /* 1: ready; 0: the deadline passed; -1: poll failed (errno).  deadline < 0: none. */
    static int wts_sx_wait(int fd, short events, double deadline)
    {
        for (;;) {
            int ms = -1;
            if (deadline >= 0) {
                double left = deadline - wts_sx_now();
                if (left <= 0) return 0;
                ms = left > 2e6 ? 2000000000 : (int)(left * 1000.0) + 1;
            }
            struct pollfd p;
            p.fd = fd;
            p.events = events;
            p.revents = 0;
            int r = poll(&p, 1, ms);
            if (r > 0) return 1; /* readable, writable, or hung up/error: the next call says which */
            if (r < 0 && errno != EINTR) return -1;
        }
    }

    static int wts_sock_exchange(long lfd, const unsigned char *out, size_t outlen, int check_gone,
                                 unsigned char *buf, size_t cap, size_t *have, double timeout,
                                 int *err, size_t *sent)
    {
        int fd = (int)lfd;
        double deadline = timeout < 0 ? -1.0 : wts_sx_now() + timeout;
        *err = 0;
        *sent = 0;
        if (check_gone && *have == 0) {
            /* Between exchanges nothing is owed to us: an end of stream means the server is gone. */
            char c;
            ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r == 0) return WTS_SX_GONE;
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                *err = errno;
                return WTS_SX_GONE;
            }
        }
        while (*sent < outlen) {
            ssize_t r = send(fd, out + *sent, outlen - *sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) {
                *sent += (size_t)r;
            } else if (r < 0 && errno == EINTR) {
                continue;
            } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                int w = wts_sx_wait(fd, POLLOUT, deadline);
                if (w == 0) { *err = ETIMEDOUT; return WTS_SX_SEND_FAILED; }
                if (w < 0) { *err = errno; return WTS_SX_SEND_FAILED; }
            } else {
                *err = r < 0 ? errno : EPIPE;
                return WTS_SX_SEND_FAILED;
            }
        }
        for (;;) {
            if (*have >= 4) {
                if (buf[0] != 0) return WTS_SX_BAD_FRAME;
                size_t size = ((size_t)buf[1] << 16) | ((size_t)buf[2] << 8) | (size_t)buf[3];
                if (*have >= 4 + size) return WTS_SX_OK;
                if (4 + size > cap) return WTS_SX_FULL;
            }
            if (*have >= cap) return WTS_SX_FULL;
            ssize_t r = recv(fd, buf + *have, cap - *have, MSG_DONTWAIT);
            if (r > 0) {
                *have += (size_t)r;
            } else if (r == 0) {
                return WTS_SX_EOF;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int w = wts_sx_wait(fd, POLLIN, deadline);
                if (w == 0) return WTS_SX_TIMEOUT;
                if (w < 0) { *err = errno; return WTS_SX_RECV_FAILED; }
            } else {
                *err = errno;
                return WTS_SX_RECV_FAILED;
            }
        }
    }
    #endif
    """
    int WTS_SX_AVAILABLE
    int wts_sock_exchange(long fd, const unsigned char *out, size_t outlen, int check_gone,
                          unsigned char *buf, size_t cap, size_t *have, double timeout,
                          int *err, size_t *sent) noexcept nogil

#: Whether sock_exchange works here (POSIX); the Wire falls back to Python's socket methods if not.
SOCK_EXCHANGE = bool(WTS_SX_AVAILABLE)
SX_OK, SX_GONE, SX_SEND_FAILED, SX_TIMEOUT, SX_EOF, SX_RECV_FAILED, SX_BAD_FRAME, SX_FULL = range(8)


def sock_exchange(long fd, const unsigned char[::1] out, unsigned char[::1] buf, Py_ssize_t have,
                  double timeout, bint check_gone):
    """Send ``out`` on the socket ``fd`` (first, with ``check_gone`` and an empty buffer,
    whether the peer has closed), then read into ``buf[have:]`` until ``buf`` starts with a whole
    Direct TCP frame; ``timeout`` seconds for all of it (negative: none), the GIL released throughout.
    Returns ``(code, have, errno, sent)``: one of the SX_ codes, the bytes now in ``buf``, the
    system's error number where there is one, and the bytes of ``out`` sent."""
    cdef size_t h = <size_t>have
    cdef size_t sent = 0
    cdef int err = 0
    cdef int code
    cdef const unsigned char *op = NULL
    cdef size_t outlen = <size_t>out.shape[0]
    if have < 0 or have > buf.shape[0] or buf.shape[0] == 0:
        raise ValueError("sock_exchange: have is outside the buffer")
    if outlen:
        op = &out[0]
    with nogil:
        code = wts_sock_exchange(fd, op, outlen, check_gone, &buf[0], <size_t>buf.shape[0], &h, timeout,
                                 &err, &sent)
    return code, h, err, sent
