#ifndef ISOLA_STDIO_FRAME_H
#define ISOLA_STDIO_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* status (2) + payload tag and length (1 + 10) + data tag and length (1 + 10) */
#define STDIO_BODY_HEAD_MAX 24
#define STDIO_BODY_TAIL_MAX 2

/* The Response bytes before a ReadStdio answer's n data bytes; returns their count and sets
 * *body_len to the whole body's length (head, data and tail). */
size_t stdio_body_head(uint8_t head[STDIO_BODY_HEAD_MAX], size_t n, bool eof, size_t *body_len);
/* The bytes after the data; returns their count (0 unless eof). */
size_t stdio_body_tail(uint8_t tail[STDIO_BODY_TAIL_MAX], bool eof);
#endif
