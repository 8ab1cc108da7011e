/* stdio_frame against protobuf-c: for data lengths around every varint boundary up to the
 * largest answer (MAX_IO), with and without eof, head + data + tail must be exactly the body
 * ttrpc_reply packs (Response{status: {}, payload: ReadStdioResponse{data, eof}}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stdio_frame.h"
#include "isola/agent/v1/agent.pb-c.h"
#include "ttrpc/ttrpc.pb-c.h"

static int check(size_t n, bool eof)
{
	uint8_t *data = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 31 + 7);

	Isola__Agent__V1__ReadStdioResponse r = ISOLA__AGENT__V1__READ_STDIO_RESPONSE__INIT;
	r.data.data = data;
	r.data.len = n;
	r.eof = eof;
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	st.message = "";
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	resp.status = &st;
	resp.payload.len = protobuf_c_message_get_packed_size(&r.base);
	resp.payload.data = malloc(resp.payload.len + 1);
	protobuf_c_message_pack(&r.base, resp.payload.data);
	size_t body = ttrpc__response__get_packed_size(&resp);
	uint8_t *want = malloc(body);
	ttrpc__response__pack(&resp, want);

	uint8_t head[STDIO_BODY_HEAD_MAX], tail[STDIO_BODY_TAIL_MAX];
	size_t body_len;
	size_t h = stdio_body_head(head, n, eof, &body_len);
	size_t t = stdio_body_tail(tail, eof);
	int bad = body_len != body || h + n + t != body || memcmp(head, want, h) != 0 ||
		  memcmp(data, want + h, n) != 0 || memcmp(tail, want + h + n, t) != 0;
	if (bad)
		fprintf(stderr, "stdio_frame differs from protobuf-c for n=%zu eof=%d\n", n, eof);
	free(want);
	free(resp.payload.data);
	free(data);
	return bad;
}

int main(void)
{
	size_t edges[] = { 0, 1, 2, 117, 118, 125, 126, 127, 128, 129, 16368, 16379, 16380, 16381, 16383,
			   16384, 16385, 65536, 2097138, 1u << 20 };
	int failed = 0, cases = 0;
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		for (int eof = 0; eof < 2; eof++) {
			if (edges[i] == 0 && !eof)
				continue; /* never sent: empty data goes with eof */
			failed += check(edges[i], eof);
			cases++;
		}
	}
	for (int k = 0; k < 200; k++) { /* random lengths up to 1 MiB */
		size_t n = 1 + (size_t)rand() % (1u << 20);
		failed += check(n, rand() & 1);
		cases++;
	}
	printf("stdio_frame: %d cases, %d differ\n", cases, failed);
	return failed != 0;
}
