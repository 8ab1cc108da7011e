/* Small helpers: logging, time, id validation, whole-file I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

bool g_pid1;
static int kmsg_fd = -1;

void log_open_kmsg(void)
{
	if (kmsg_fd < 0)
		kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
}

void logmsg(const char *fmt, ...)
{
	char buf[512];
	int n;
	va_list ap;

	/* kmsg takes one record per write(); "<6>" is KERN_INFO. */
	n = snprintf(buf, sizeof buf, "%sisola-agent: ", kmsg_fd >= 0 ? "<6>" : "");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	if (write(kmsg_fd >= 0 ? kmsg_fd : 2, buf, n) < 0) {
		/* nowhere left to complain */
	}
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}: safe as a path component and a crun id. */
bool valid_id(const char *s)
{
	size_t n = 0;
	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && (n == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
		if (n >= 64)
			return false;
	}
	return true;
}

int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		len -= w;
	}
	return close(fd);
}

ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	if (fd < 0)
		return -1;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	return n;
}

void sanitize(char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;
		if ((c < 0x20 && c != '\n' && c != '\t') || c > 0x7e)
			*s = '?';
	}
}

int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* fds 0-2 must be open so every fd we open later is >2: dup2() onto a
 * child's stdio then always clears close-on-exec. (The kernel starts init
 * with no fds at all when the initramfs has no /dev/console.) */
void ensure_stdio(void)
{
	for (;;) {
		int fd = open("/dev/null", O_RDWR);
		if (fd > 2)
			close(fd);
		if (fd < 0 || fd > 2)
			break;
	}
}
