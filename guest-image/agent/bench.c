/*
 * Benchmark baselines measured inside the guest (make bench rows 3 and 4): what the host's path
 * is compared with. Both calls block the agent's loop while they run; only the benchmark's own
 * VMs receive them, and both are bounded (count, bytes, a deadline per crun run).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "isola/agent/v1/agent.pb-c.h"

#define A(x) Isola__Agent__V1__##x
#define BENCH_MAX_RUNS 50
#define BENCH_MAX_ARGS 16
#define BENCH_MAX_ARG_BYTES 256
#define BENCH_MAX_BYTES (4ULL << 30)
#define BENCH_CHUNK (1u << 20)

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Runs argv to its end (stdio on /dev/null); its wait status, or -1 past the deadline. */
static int run_to_end(char **argv, int64_t deadline_ms)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() > deadline_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(500);
	}
}

void rpc_bench_exec(uint32_t sid, const uint8_t *data, size_t len)
{
	A(BenchExecRequest) *req = isola__agent__v1__bench_exec_request__unpack(NULL, len, data);
	if (!req) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "malformed BenchExecRequest");
		return;
	}
	uint64_t micros[BENCH_MAX_RUNS];
	char *argv[BENCH_MAX_ARGS + 4];
	int n = 0, status = 0;
	if (!valid_id(req->container_id) || req->count < 1 || req->count > BENCH_MAX_RUNS ||
	    req->n_args < 1 || req->n_args > BENCH_MAX_ARGS) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "bench exec: a container id, 1..%d args, 1..%d runs",
			    BENCH_MAX_ARGS, BENCH_MAX_RUNS);
		goto out;
	}
	argv[n++] = (char *)g_crun;
	argv[n++] = "exec";
	argv[n++] = req->container_id;
	for (size_t i = 0; i < req->n_args; i++) {
		if (strlen(req->args[i]) > BENCH_MAX_ARG_BYTES) {
			ttrpc_error(sid, CODE_INVALID_ARGUMENT, "bench exec: an argument is too long");
			goto out;
		}
		argv[n++] = req->args[i];
	}
	argv[n] = NULL;
	for (uint32_t i = 0; i < req->count; i++) {
		uint64_t t0 = now_us();
		status = run_to_end(argv, now_ms() + CRUN_TIMEOUT_MS);
		micros[i] = now_us() - t0;
		if (status == -1) {
			ttrpc_error(sid, CODE_DEADLINE_EXCEEDED, "bench exec: crun did not finish");
			goto out;
		}
	}
	{
		A(BenchExecResponse) r = ISOLA__AGENT__V1__BENCH_EXEC_RESPONSE__INIT;
		r.n_micros = req->count;
		r.micros = micros;
		r.last_status = status;
		ttrpc_reply(sid, &r.base);
	}
out:
	isola__agent__v1__bench_exec_request__free_unpacked(req, NULL);
}

void rpc_bench_channel(uint32_t sid, const uint8_t *data, size_t len)
{
	A(BenchChannelRequest) *req = isola__agent__v1__bench_channel_request__unpack(NULL, len, data);
	if (!req) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "malformed BenchChannelRequest");
		return;
	}
	uint64_t want = req->bytes;
	isola__agent__v1__bench_channel_request__free_unpacked(req, NULL);
	if (want == 0 || want > BENCH_MAX_BYTES) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "bench channel: 1 byte to 4 GiB");
		return;
	}
	int fd = open_named_port("isola.bench", 1000);
	if (fd < 0) {
		ttrpc_error(sid, CODE_FAILED_PRECONDITION, "no isola.bench port in this VM");
		return;
	}
	static uint8_t zeros[BENCH_CHUNK];
	uint64_t t0 = now_us(), sent = 0;
	while (sent < want) {
		size_t n = want - sent < BENCH_CHUNK ? (size_t)(want - sent) : BENCH_CHUNK;
		ssize_t w = write(fd, zeros, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			ttrpc_error(sid, CODE_INTERNAL, "bench channel: write: %s", strerror(errno));
			return;
		}
		sent += (uint64_t)w;
	}
	A(BenchChannelResponse) r = ISOLA__AGENT__V1__BENCH_CHANNEL_RESPONSE__INIT;
	r.micros = now_us() - t0;
	close(fd);
	ttrpc_reply(sid, &r.base);
}
