/* isola-agent: shared declarations. One thread, one poll loop; see main.c. */
#ifndef ISOLA_AGENT_H
#define ISOLA_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#define AGENT_VERSION "0.1.0"

/* Bounds. The host is trusted more than the guest, but a buggy host must not
 * be able to make PID 1 run out of memory or file descriptors either. */
#define MAX_FRAME            (4u << 20)  /* ttrpc payload limit */
#define MAX_IO               (1u << 20)  /* ReadStdio answer / WriteStdin data */
#define MAX_CONTAINERS       64
#define MAX_EXECS            128         /* per container, exited ones included */
#define MAX_PARKED_PER_PROC  32          /* parked Read/Write/Wait per process */
#define MAX_PARKED_TOTAL     1024
#define MAX_PARKED_WR_BYTES  (8u << 20)  /* WriteStdin data held while parked */
#define CRUN_TIMEOUT_MS      60000       /* a crun run longer than this is killed */
#define DESTROY_REAP_MS      10000       /* wait this long for SIGKILLed processes */

/* google.rpc.Code */
enum {
	CODE_OK = 0,
	CODE_INVALID_ARGUMENT = 3,
	CODE_DEADLINE_EXCEEDED = 4,
	CODE_NOT_FOUND = 5,
	CODE_ALREADY_EXISTS = 6,
	CODE_PERMISSION_DENIED = 7,
	CODE_RESOURCE_EXHAUSTED = 8,
	CODE_FAILED_PRECONDITION = 9,
	CODE_UNIMPLEMENTED = 12,
	CODE_INTERNAL = 13,
};

/* util.c */
extern bool g_pid1;
void log_open_kmsg(void);
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t now_ms(void);
bool valid_id(const char *s);
int write_file(const char *path, const void *data, size_t len, mode_t mode);
ssize_t read_file(const char *path, char *buf, size_t cap); /* NUL-terminates */
void sanitize(char *s); /* make a string printable ASCII (proto3 wants UTF-8) */
int set_nonblock(int fd);
void ensure_stdio(void);

/* ttrpc.c: framing over the channel fd */
void ttrpc_init(int fd);
int ttrpc_on_readable(void); /* 1: data, 0: none, <0: channel EOF or error */
void ttrpc_reset(void);      /* drop partial input (channel reconnected) */
bool ttrpc_broken(void);     /* a write found the host gone; cleared by ttrpc_reset() */
bool ttrpc_host_gone(void);  /* the host side is closed right now */
void ttrpc_drain(void);      /* read and drop what a closed host left in the channel */
void ttrpc_reply(uint32_t sid, const ProtobufCMessage *msg);
void ttrpc_reply_stdio(uint32_t sid, const uint8_t *data, size_t n, bool eof);
void ttrpc_error(uint32_t sid, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* proc.c: containers, processes, parked requests, crun runs */
struct poll_ref {
	int kind; /* PR_* in proc.c */
	void *obj;
	int idx;
};
extern const char *g_crun;
extern const char *g_run_dir;
extern uint64_t g_epoch; /* bumped whenever an object is freed */
int proc_init(void);
bool agent_dispatch(uint32_t sid, const char *method, const uint8_t *data, size_t len);
int proc_pollfds(struct pollfd *pfd, struct poll_ref *ref, int max);
void proc_on_event(const struct poll_ref *ref, short revents);
void proc_reap(void);
int proc_timeout_ms(void); /* -1: none */
void proc_on_timer(void);
void proc_kill_all(void);
void proc_drop_parked(void); /* host disconnected */
extern bool g_shutdown_requested;

/* net.c: the guest's network (ConfigureNetwork) */
void rpc_configure_network(uint32_t sid, const uint8_t *data, size_t len);

/* init.c: PID-1 duties */
void pid1_stage1(int argc, char **argv); /* never returns (re-execs) */
void pid1_stage2(void);
int open_agent_port(void);
int open_named_port(const char *name, int timeout_ms);

/* bench.c: benchmark baselines measured inside the guest */
void rpc_bench_exec(uint32_t sid, const uint8_t *data, size_t len);
void rpc_bench_channel(uint32_t sid, const uint8_t *data, size_t len);
void poweroff(void) __attribute__((noreturn));
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
