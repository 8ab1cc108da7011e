#ifndef ISOLA_STDIO_FRAME_H
#define ISOLA_STDIO_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ttrpc header (10) + status (2) + payload tag and length (1 + 10) + data tag and length (1 + 10) */
#define STDIO_FRAME_HEAD_MAX 34
#define STDIO_FRAME_TAIL_MAX 2

/* The bytes before a ReadStdio answer's n data bytes, for stream sid; returns their count. */
size_t stdio_frame_head(uint8_t head[STDIO_FRAME_HEAD_MAX], uint32_t sid, size_t n, bool eof);
/* The bytes after the data; returns their count (0 unless eof). */
size_t stdio_frame_tail(uint8_t tail[STDIO_FRAME_TAIL_MAX], bool eof);
#endif
