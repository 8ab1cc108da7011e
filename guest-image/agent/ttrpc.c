/* ttrpc v1.1 framing over one byte channel.
 *
 * Frame: 10-byte big-endian header {u32 length, u32 stream id, u8 type,
 * u8 flags} then `length` bytes of protobuf. We are the server: type 1
 * (request) carries ttrpc.Request, we answer type 2 (response) with
 * ttrpc.Response on the same stream id. Answers may go out in any order,
 * so parked requests only need to remember their stream id. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent.h"
#include "stdio_frame.h"
#include "ttrpc/ttrpc.pb-c.h"

#define HDR 10
#define T_REQUEST 1
#define T_RESPONSE 2
#define SERVICE "isola.agent.v1.Agent"

static int chan_fd = -1;
static uint8_t *rx;          /* [rx_off, rx_len) is unparsed input */
static size_t rx_off, rx_len, rx_cap;
static uint64_t discard;     /* bytes of an oversize frame still to drop */
static bool broken;          /* the host is gone: drop output until reset */

void ttrpc_init(int fd)
{
	chan_fd = fd;
	ttrpc_reset();
}

void ttrpc_reset(void)
{
	rx_off = rx_len = 0;
	discard = 0;
	broken = false;
}

bool ttrpc_broken(void)
{
	return broken;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Blocking write of a whole frame. The channel fd is non-blocking (reads
 * must never stall the loop), so EAGAIN waits for POLLOUT: the host always
 * reads, so this only waits for the transport to drain. A virtio-serial port
 * whose host side is closed says EAGAIN and POLLHUP (never POLLOUT): the
 * frame is dropped then, and so is all output until the loop has seen the
 * disconnect (ttrpc_reset), so nothing of this connection reaches the next. */
static void send_all(struct iovec *iov, int cnt)
{
	while (cnt > 0 && !broken) {
		ssize_t w = writev(chan_fd, iov, cnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = chan_fd, .events = POLLOUT };
				if (poll(&p, 1, 1000) > 0 && !(p.revents & POLLOUT) &&
				    (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
					broken = true;
				continue;
			}
			logmsg("channel write: %s", strerror(errno));
			broken = true; /* the read side will notice the broken channel */
			return;
		}
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= w;
		}
	}
}

static void put_response_header(uint8_t hdr[HDR], uint32_t sid, size_t body_len)
{
	put_be32(hdr, (uint32_t)body_len);
	put_be32(hdr + 4, sid);
	hdr[8] = T_RESPONSE;
	hdr[9] = 0;
}

static void send_response(uint32_t sid, int code, const char *msg, const ProtobufCMessage *payload)
{
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	uint8_t hdr[HDR], *pbuf = NULL, *body;
	size_t len;

	if (sid == 0 || broken)
		return; /* nobody to answer (the request's connection is gone) */
	st.code = code;
	st.message = (char *)(msg ? msg : "");
	resp.status = &st; /* always present, as containerd's ttrpc does */
	if (payload) {
		resp.payload.len = protobuf_c_message_get_packed_size(payload);
		pbuf = malloc(resp.payload.len ? resp.payload.len : 1);
		if (!pbuf)
			die("out of memory");
		protobuf_c_message_pack(payload, pbuf);
		resp.payload.data = pbuf;
	}
	len = ttrpc__response__get_packed_size(&resp);
	body = malloc(len ? len : 1);
	if (!body)
		die("out of memory");
	ttrpc__response__pack(&resp, body);
	put_response_header(hdr, sid, len);
	struct iovec iov[2] = { { hdr, HDR }, { body, len } };
	send_all(iov, 2);
	free(body);
	free(pbuf);
}

/* A successful ReadStdio answer: the frame ttrpc_reply would send, with the data written
 * straight from the caller's buffer (stdio_frame.c). */
void ttrpc_reply_stdio(uint32_t sid, const uint8_t *data, size_t n, bool eof)
{
	uint8_t hdr[HDR], head[STDIO_BODY_HEAD_MAX], tail[STDIO_BODY_TAIL_MAX];
	size_t body_len;

	if (sid == 0 || broken)
		return;
	size_t head_len = stdio_body_head(head, n, eof, &body_len);
	put_response_header(hdr, sid, body_len);
	struct iovec iov[4] = {
		{ hdr, HDR },
		{ head, head_len },
		{ (void *)data, n },
		{ tail, stdio_body_tail(tail, eof) },
	};
	send_all(iov, 4);
}

void ttrpc_reply(uint32_t sid, const ProtobufCMessage *msg)
{
	send_response(sid, CODE_OK, NULL, msg);
}

void ttrpc_error(uint32_t sid, int code, const char *fmt, ...)
{
	char buf[3072];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sanitize(buf);
	send_response(sid, code, buf, NULL);
}

static void handle_frame(uint32_t sid, uint8_t type, const uint8_t *p, size_t len)
{
	Ttrpc__Request *req;

	if (type != T_REQUEST)
		return; /* unknown types are ignored, as the ttrpc spec says */
	req = ttrpc__request__unpack(NULL, len, p);
	if (!req) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "malformed ttrpc request");
		return;
	}
	if (strcmp(req->service, SERVICE) != 0)
		ttrpc_error(sid, CODE_UNIMPLEMENTED, "unknown service");
	else if (!agent_dispatch(sid, req->method, req->payload.data, req->payload.len))
		ttrpc_error(sid, CODE_UNIMPLEMENTED, "unknown method");
	/* timeout_nano is not enforced here: the host owns every deadline. */
	ttrpc__request__free_unpacked(req, NULL);
}

/* Parse every complete frame in the buffer. */
static void parse(void)
{
	for (;;) {
		size_t avail = rx_len - rx_off;
		if (discard > 0) {
			size_t d = avail < discard ? avail : discard;
			rx_off += d;
			discard -= d;
			if (discard > 0)
				break;
			continue;
		}
		if (avail < HDR)
			break;
		const uint8_t *h = rx + rx_off;
		uint32_t len = be32(h), sid = be32(h + 4);
		uint8_t type = h[8];
		if (len > MAX_FRAME) {
			/* Drop the payload as it streams past; never allocate it. */
			rx_off += HDR;
			discard = len;
			if (type == T_REQUEST)
				ttrpc_error(sid, CODE_RESOURCE_EXHAUSTED,
					    "frame of %u bytes exceeds %u", len, MAX_FRAME);
			continue;
		}
		if (avail < HDR + (size_t)len)
			break;
		rx_off += HDR + len;
		handle_frame(sid, type, h + HDR, len);
	}
	if (rx_off == rx_len)
		rx_off = rx_len = 0;
}

/* Is the host side closed (now)? Checked before taking data out of a pipe
 * for an answer, so the data is not lost when the answer cannot go out. */
bool ttrpc_host_gone(void)
{
	struct pollfd p = { .fd = chan_fd, .events = POLLIN };
	return broken || (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)));
}

/* Read and drop what the port still holds from a host that is gone (bounded:
 * a host that is back already may be sending). */
void ttrpc_drain(void)
{
	static uint8_t scratch[64 * 1024];
	for (int i = 0; i < 256; i++) {
		ssize_t r = read(chan_fd, scratch, sizeof scratch);
		if (r <= 0 && !(r < 0 && errno == EINTR))
			break;
	}
}

/* 1: read data, 0: nothing to read, <0: EOF (host gone) or error. */
int ttrpc_on_readable(void)
{
	/* Make room: compact, then grow towards the frame being assembled
	 * (at most HDR + MAX_FRAME) so a whole frame fits. */
	if (rx_off > 0 && (rx_len == rx_cap || rx_off > rx_cap / 2)) {
		memmove(rx, rx + rx_off, rx_len - rx_off);
		rx_len -= rx_off;
		rx_off = 0;
	}
	size_t want = 64 * 1024;
	if (discard == 0 && rx_len - rx_off >= HDR) {
		uint32_t len = be32(rx + rx_off);
		if (len <= MAX_FRAME && HDR + (size_t)len > want)
			want = HDR + len;
	}
	if (rx_off == 0 && rx_cap < want) {
		uint8_t *n = realloc(rx, want);
		if (!n)
			die("out of memory");
		rx = n;
		rx_cap = want;
	}
	if (rx_len == rx_cap) {
		/* Cannot happen: a pending frame always fits after compaction. */
		ttrpc_reset();
	}
	ssize_t r = read(chan_fd, rx + rx_len, rx_cap - rx_len);
	if (r < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (r == 0)
		return -1;
	rx_len += r;
	parse();
	/* Shrink a big buffer once idle: a 4 MiB frame should not pin 4 MiB. */
	if (rx_len == 0 && rx_cap > 256 * 1024) {
		free(rx);
		rx = NULL;
		rx_cap = 0;
	}
	return 1; /* data came in: a host is there */
}
