/* The body of a ReadStdio answer (a ttrpc Response), written by hand around the data instead of packed.
 *
 * ttrpc_reply would pack ReadStdioResponse{data, eof} into one buffer, then pack
 * Response{status: {}, payload} into a second, copying a chunk of up to 1 MiB twice and
 * allocating twice (glibc maps and unmaps allocations that large, which costs page faults),
 * all before the kernel copies it once more into the port. Protobuf lets a bytes field be
 * followed by anything, so the same bytes can go out as head, data, tail with writev, behind
 * the ttrpc header ttrpc.c writes: the data is then copied only by the kernel.
 * stdio_frame_test.c checks the bytes are exactly what protobuf-c packs. */
#include "stdio_frame.h"

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v > 0x7f) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
		n++;
	} while (v);
	return n;
}

size_t stdio_body_head(uint8_t head[STDIO_BODY_HEAD_MAX], size_t n, bool eof, size_t *body_len)
{
	/* ReadStdioResponse: data = 1 (omitted when empty, as protobuf-c does), eof = 2 */
	size_t inner = (n ? 1 + varint_len(n) + n : 0) + (eof ? 2 : 0);
	uint8_t *p = head;

	/* Response: status = 1, an empty Status (code OK) always present; payload = 2, omitted
	 * when empty */
	*p++ = 0x0a;
	*p++ = 0x00;
	if (inner) {
		*p++ = 0x12;
		p += put_varint(p, inner);
	}
	if (n) {
		*p++ = 0x0a;
		p += put_varint(p, n);
	}
	*body_len = 2 + (inner ? 1 + varint_len(inner) + inner : 0);
	return (size_t)(p - head);
}

size_t stdio_body_tail(uint8_t tail[STDIO_BODY_TAIL_MAX], bool eof)
{
	if (!eof)
		return 0;
	tail[0] = 0x10;
	tail[1] = 0x01;
	return 2;
}
