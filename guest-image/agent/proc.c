/* Containers and processes: crun runs, stdio, parked requests, reaping.
 *
 * Nothing here blocks. crun is spawned and its exit arrives through the
 * SIGCHLD reaper (a "job"); the RPC that started it is answered then.
 * ReadStdio / WriteStdin / WaitProcess park on the process until the pipe is
 * ready or the process is reaped. A process's output fd is polled only while
 * a ReadStdio for it is parked: that is the back-pressure towards the
 * container. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <dirent.h>

#include "agent.h"
#include "isola/agent/v1/agent.pb-c.h"

extern char **environ;

const char *g_crun = "/usr/bin/crun";
const char *g_run_dir = "/run/isola";
uint64_t g_epoch;
bool g_shutdown_requested;

enum { PR_OUT, PR_IN };
enum { C_CREATING, C_CREATED, C_RUNNING, C_DESTROYING };
enum { J_CREATE, J_START, J_EXEC, J_DELETE };

struct pending {
	struct pending *next;
	uint32_t sid;
	uint32_t max;                              /* ReadStdio */
	Isola__Agent__V1__WriteStdinRequest *wreq; /* WriteStdin */
	size_t off;
};

struct queue {
	struct pending *head, **tail;
};

struct stream {
	int fd;   /* read end of the process's stdout/stderr, or pty master */
	bool eof; /* EOF delivered or fd never existed */
	struct queue reads;
};

struct container;

struct proc {
	struct proc *next;
	struct container *c;
	char exec_id[65];   /* "" for init */
	bool live;          /* visible to RPCs (crun create/exec succeeded) */
	pid_t pid;
	bool exited;
	int status;         /* raw wait status */
	bool oom;
	bool waited;        /* a Wait got the status: may be evicted */
	bool terminal;
	struct stream out[2];
	int in_fd;          /* write end of stdin (a dup of the pty master) */
	bool in_close;      /* CloseStdin seen: close once writes drain */
	struct queue writes, waits;
	int parked;
	uint64_t oom_base;
	uint64_t seq;
};

struct container {
	struct container *next;
	char id[65];
	char bundle[1200];  /* run dir (< 1024, checked) + "/bundles/" + id */
	int state;
	bool mounted;       /* something of ours is mounted on rootfs */
	bool own_rootfs;    /* we created the rootfs dir */
	char direct_tag[65]; /* the 9p share mounted directly on rootfs, or "" */
	struct share *share; /* the share a subdirectory of which is bound on rootfs */
	int jobs;           /* crun runs in flight for this container */
	struct proc *init;
	struct proc *execs;
	int nexecs;
	char cgroup[PATH_MAX]; /* cgroup v2 directory, "" if unknown */
	/* destroy */
	uint32_t destroy_sid;
	bool delete_started, delete_done;
	int64_t destroy_deadline;
};

/* A 9p share mounted once at <run-dir>/shares/<tag>, used by several containers
 * (each binds its own subdirectory as rootfs). A virtio-9p tag can be mounted
 * only once at a time, hence the refcount. */
struct share {
	struct share *next;
	char tag[65];
	char path[1100];
	int refs;
};

struct job {
	struct job *next;
	pid_t pid;
	int kind;
	uint32_t sid;
	struct container *c;
	struct proc *p;
	int console;        /* listening console socket, or -1 */
	char console_path[108];
	char log[PATH_MAX];
	char pidfile[PATH_MAX];
	char cmd[128];      /* the command being run, for error messages */
	int64_t deadline;
};

static struct container *containers;
static struct share *shares;
static int ncontainers;
static struct job *jobs;
static int parked_total;
static size_t parked_wr_bytes;
static uint64_t seq_counter;
static int devnull = -1;

/* Recently reaped pids nobody claimed yet: a `crun exec` child can exit
 * before crun exec itself does and we read its pid file. */
#define ORPHANS 64
static struct { pid_t pid; int status; } orphans[ORPHANS];
static int orphan_next;

static uint8_t iobuf[MAX_IO];

#define A(x) Isola__Agent__V1__##x
#define UNPACK(T, fn, var)                                                   \
	A(T) *var = isola__agent__v1__##fn##__unpack(NULL, len, data);      \
	if (!var) {                                                          \
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "malformed " #T);    \
		return;                                                      \
	}
#define FREE(fn, var) isola__agent__v1__##fn##__free_unpacked(var, NULL)

/* ---------- queues ---------- */

static void q_init(struct queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

static void q_push(struct queue *q, struct pending *p)
{
	p->next = NULL;
	*q->tail = p;
	q->tail = &p->next;
}

static struct pending *q_pop(struct queue *q)
{
	struct pending *p = q->head;
	if (p) {
		q->head = p->next;
		if (!q->head)
			q->tail = &q->head;
	}
	return p;
}

static bool can_park(uint32_t sid, struct proc *p)
{
	if (p->parked >= MAX_PARKED_PER_PROC || parked_total >= MAX_PARKED_TOTAL) {
		ttrpc_error(sid, CODE_RESOURCE_EXHAUSTED, "too many pending requests");
		return false;
	}
	return true;
}

static struct pending *park(struct queue *q, struct proc *p, uint32_t sid)
{
	struct pending *pd = calloc(1, sizeof *pd);
	if (!pd)
		die("out of memory");
	pd->sid = sid;
	q_push(q, pd);
	p->parked++;
	parked_total++;
	return pd;
}

static void unpark(struct proc *p, struct pending *pd)
{
	if (pd->wreq) {
		parked_wr_bytes -= pd->wreq->data.len;
		FREE(write_stdin_request, pd->wreq);
	}
	p->parked--;
	parked_total--;
	free(pd);
}

static void fail_queue(struct proc *p, struct queue *q, int code, const char *msg)
{
	struct pending *pd;
	while ((pd = q_pop(q))) {
		ttrpc_error(pd->sid, code, "%s", msg);
		unpark(p, pd);
	}
}

/* ---------- lookup ---------- */

static struct container *find_container(const char *id)
{
	for (struct container *c = containers; c; c = c->next)
		if (c->state != C_CREATING && strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static struct proc *find_proc(uint32_t sid, const char *cid, const char *eid)
{
	struct container *c = find_container(cid);
	if (!c) {
		ttrpc_error(sid, CODE_NOT_FOUND, "container %s not found", valid_id(cid) ? cid : "?");
		return NULL;
	}
	if (!*eid)
		return c->init;
	for (struct proc *p = c->execs; p; p = p->next)
		if (p->live && strcmp(p->exec_id, eid) == 0)
			return p;
	ttrpc_error(sid, CODE_NOT_FOUND, "exec %s not found", valid_id(eid) ? eid : "?");
	return NULL;
}

/* ---------- process lifecycle ---------- */

static struct proc *proc_new(struct container *c, const char *eid)
{
	struct proc *p = calloc(1, sizeof *p);
	if (!p)
		die("out of memory");
	p->c = c;
	snprintf(p->exec_id, sizeof p->exec_id, "%s", eid);
	p->out[0].fd = p->out[1].fd = p->in_fd = -1;
	q_init(&p->out[0].reads);
	q_init(&p->out[1].reads);
	q_init(&p->writes);
	q_init(&p->waits);
	p->seq = ++seq_counter;
	return p;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void proc_free(struct proc *p, const char *why)
{
	for (int i = 0; i < 2; i++) {
		fail_queue(p, &p->out[i].reads, CODE_NOT_FOUND, why);
		close_fd(&p->out[i].fd);
	}
	fail_queue(p, &p->writes, CODE_NOT_FOUND, why);
	fail_queue(p, &p->waits, CODE_NOT_FOUND, why);
	close_fd(&p->in_fd);
	free(p);
	g_epoch++;
}

static uint64_t oom_count(struct container *c)
{
	char buf[1024], path[PATH_MAX + 32], *s;
	if (!c->cgroup[0])
		return 0;
	snprintf(path, sizeof path, "%s/memory.events", c->cgroup);
	if (read_file(path, buf, sizeof buf) < 0)
		return 0;
	s = strstr(buf, "oom_kill ");
	return s ? strtoull(s + 9, NULL, 10) : 0;
}

static void answer_wait(struct proc *p, uint32_t sid)
{
	A(WaitProcessResponse) r = ISOLA__AGENT__V1__WAIT_PROCESS_RESPONSE__INIT;
	if (WIFSIGNALED(p->status)) {
		r.signaled = true;
		r.signal = WTERMSIG(p->status);
		r.exit_status = 128 + r.signal;
	} else {
		r.exit_status = WEXITSTATUS(p->status);
	}
	r.oom_killed = p->oom;
	p->waited = true;
	ttrpc_reply(sid, &r.base);
}

static void proc_exited(struct proc *p, int status)
{
	struct pending *pd;
	p->exited = true;
	p->status = status;
	/* Only a SIGKILL can be the OOM killer; count it if the cgroup's
	 * oom_kill counter moved while this process lived. */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_count(p->c) > p->oom_base)
		p->oom = true;
	while ((pd = q_pop(&p->waits))) {
		answer_wait(p, pd->sid);
		unpark(p, pd);
	}
	/* Callers run destroy_step() if the container is being destroyed. */
}

/* Give a freshly known pid to its process; it may already have been reaped. */
static void proc_set_pid(struct proc *p, pid_t pid)
{
	p->pid = pid;
	p->live = true;
	p->oom_base = oom_count(p->c);
	for (int i = 0; i < ORPHANS; i++)
		if (orphans[i].pid == pid) {
			orphans[i].pid = 0;
			proc_exited(p, orphans[i].status);
			return;
		}
}

/* ---------- stdio ---------- */

static void read_answer(struct proc *p, int i)
{
	struct stream *s = &p->out[i];
	struct pending *pd = s->reads.head;
	ssize_t n = 0;

	if (!pd)
		return;
	if (!s->eof && ttrpc_host_gone())
		return; /* stays parked, and dropped with the connection: the data stays */
	if (!s->eof) {
		n = read(s->fd, iobuf, pd->max);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return; /* spurious wakeup: stay parked */
		if (n <= 0) {
			/* 0: all writers gone. EIO: pty slave closed. */
			s->eof = true;
			close_fd(&s->fd);
			n = 0;
		}
	}
	q_pop(&s->reads);
	ttrpc_reply_stdio(pd->sid, iobuf, (size_t)n, n == 0);
	unpark(p, pd);
	/* EOF is sticky: answer everyone else waiting on this stream. */
	while (s->eof && s->reads.head)
		read_answer(p, i);
}

static void maybe_close_stdin(struct proc *p)
{
	if (p->in_close && !p->writes.head)
		close_fd(&p->in_fd);
}

/* Write as much as the pipe takes; answer writes that completed. */
static void write_some(struct proc *p)
{
	struct pending *pd;
	while ((pd = p->writes.head)) {
		ProtobufCBinaryData *d = &pd->wreq->data;
		while (pd->off < d->len) {
			ssize_t w = write(p->in_fd, d->data + pd->off, d->len - pd->off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN)
				return; /* stay parked, POLLOUT wakes us */
			if (w < 0) {
				/* EPIPE: the process closed its stdin (or exited). */
				q_pop(&p->writes);
				ttrpc_error(pd->sid, CODE_FAILED_PRECONDITION,
					    "stdin closed by the process after %zu bytes: %s",
					    pd->off, strerror(errno));
				unpark(p, pd);
				fail_queue(p, &p->writes, CODE_FAILED_PRECONDITION,
					   "stdin closed by the process");
				maybe_close_stdin(p);
				return;
			}
			pd->off += w;
		}
		A(WriteStdinResponse) r = ISOLA__AGENT__V1__WRITE_STDIN_RESPONSE__INIT;
		r.written = d->len;
		q_pop(&p->writes);
		ttrpc_reply(pd->sid, &r.base);
		unpark(p, pd);
	}
	maybe_close_stdin(p);
}

int proc_pollfds(struct pollfd *pfd, struct poll_ref *ref, int max)
{
	int n = 0;
	for (struct container *c = containers; c; c = c->next) {
		struct proc *p = c->init;
		struct proc *next_exec = c->execs;
		for (; p && n + 3 <= max; p = next_exec, next_exec = p ? p->next : NULL) {
			for (int i = 0; i < 2; i++)
				if (p->out[i].reads.head && p->out[i].fd >= 0) {
					pfd[n] = (struct pollfd){ .fd = p->out[i].fd, .events = POLLIN };
					ref[n++] = (struct poll_ref){ PR_OUT, p, i };
				}
			if (p->writes.head && p->in_fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = p->in_fd, .events = POLLOUT };
				ref[n++] = (struct poll_ref){ PR_IN, p, 0 };
			}
		}
	}
	return n;
}

void proc_on_event(const struct poll_ref *ref, short revents)
{
	struct proc *p = ref->obj;
	if (!revents)
		return;
	if (ref->kind == PR_OUT)
		read_answer(p, ref->idx);
	else
		write_some(p);
}

/* ---------- spawning crun ---------- */

static pid_t spawn(char *const argv[], int fd0, int fd1, int fd2)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	pid_t pid;
	int rc;

	/* Children must not inherit our blocked SIGCHLD or ignored SIGPIPE. */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd0, 0);
	posix_spawn_file_actions_adddup2(&fa, fd1, 1);
	posix_spawn_file_actions_adddup2(&fa, fd2, 2);
	rc = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		errno = rc;
		return -1;
	}
	return pid;
}

static struct job *job_new(int kind, uint32_t sid, struct container *c, struct proc *p)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		die("out of memory");
	j->kind = kind;
	j->sid = sid;
	j->c = c;
	j->p = p;
	j->console = -1;
	snprintf(j->log, sizeof j->log, "%s/crun.log", c->bundle);
	return j;
}

static void job_free(struct job *j)
{
	close_fd(&j->console);
	if (j->console_path[0])
		unlink(j->console_path);
	free(j);
}

/* Run crun with the given args after the global ones; the job is answered
 * from the reaper. */
static int job_run(struct job *j, char **args, int fd0, int fd1, int fd2)
{
	char logopt[PATH_MAX + 16];
	char *argv[24];
	int n = 0;

	unlink(j->log); /* each run's log on its own: the tail is this run's error */
	snprintf(logopt, sizeof logopt, "--log=file:%s", j->log);
	argv[n++] = (char *)g_crun;
	argv[n++] = logopt;
	while (*args && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	j->pid = spawn(argv, fd0 >= 0 ? fd0 : devnull, fd1 >= 0 ? fd1 : devnull,
		       fd2 >= 0 ? fd2 : devnull);
	if (j->pid < 0)
		return -1;
	j->deadline = now_ms() + CRUN_TIMEOUT_MS;
	j->c->jobs++;
	j->next = jobs;
	jobs = j;
	return 0;
}

/* Listening socket for crun --console-socket; crun sends the pty master. */
static int console_listen(struct job *j)
{
	static unsigned counter;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(j->console_path, sizeof j->console_path, "%s/console-%u.sock", g_run_dir, ++counter);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", j->console_path);
	unlink(j->console_path);
	j->console = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (j->console < 0 || bind(j->console, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(j->console, 1) < 0)
		return -1;
	return 0;
}

/* After crun exited the connection waits in the backlog; take the fd. */
static int console_receive(struct job *j)
{
	char data[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, sizeof data };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof cbuf };
	int s = accept4(j->console, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), fd = -1;
	if (s < 0)
		return -1;
	if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) >= 0) {
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	}
	close(s);
	return fd;
}

/* Pipes for a process; child ends returned in cfd[3] (-1 → /dev/null). */
static int make_stdio(struct proc *p, bool want_stdin, bool terminal, int cfd[3])
{
	int pp[2];
	cfd[0] = cfd[1] = cfd[2] = -1;
	p->terminal = terminal;
	if (terminal) {
		/* One pty (arrives later); STDERR is at EOF from the start. */
		p->out[1].eof = true;
		return 0;
	}
	if (want_stdin) {
		if (pipe2(pp, O_CLOEXEC) < 0)
			return -1;
		cfd[0] = pp[0];
		p->in_fd = pp[1];
		set_nonblock(p->in_fd);
	}
	for (int i = 0; i < 2; i++) {
		if (pipe2(pp, O_CLOEXEC) < 0)
			return -1;
		p->out[i].fd = pp[0];
		set_nonblock(pp[0]);
		/* The host pulls output one ReadStdio at a time, so each round trip carries at most
		 * what the pipe holds: 64 KiB by default, 1 MiB (MAX_IO) here. Best effort: a
		 * smaller pipe only costs throughput. */
		(void)fcntl(pp[0], F_SETPIPE_SZ, (int)MAX_IO);
		cfd[1 + i] = pp[1];
	}
	return 0;
}

static void close3(int cfd[3])
{
	for (int i = 0; i < 3; i++)
		close_fd(&cfd[i]);
}

static void attach_pty(struct proc *p, int master, bool want_stdin)
{
	set_nonblock(master);
	p->out[0].fd = master;
	if (want_stdin)
		p->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
}

static pid_t read_pidfile(const char *path)
{
	char buf[32];
	if (read_file(path, buf, sizeof buf) <= 0)
		return -1;
	long v = strtol(buf, NULL, 10);
	return v > 1 && v < INT_MAX ? (pid_t)v : -1;
}

/* Map crun's log to a status: the host turns NOT_FOUND into exit 127 and
 * PERMISSION_DENIED into 126. crun 1.8 checks the executable at `create`
 * (and `exec`) and logs "executable file `X` not found in $PATH" or
 * "open executable: Permission denied". */
static void job_fail(struct job *j, int status)
{
	char buf[8192], *tail;
	ssize_t n = read_file(j->log, buf, sizeof buf);
	if (n < 0)
		n = 0, buf[0] = 0;
	tail = buf + (n > 2048 ? n - 2048 : 0);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (strstr(tail, "not found in $PATH"))
		ttrpc_error(j->sid, CODE_NOT_FOUND, "command not found: %s: %s", j->cmd, tail);
	else if (strstr(tail, "open executable"))
		ttrpc_error(j->sid, CODE_PERMISSION_DENIED, "command not executable: %s: %s",
			    j->cmd, tail);
	else if (WIFEXITED(status))
		ttrpc_error(j->sid, CODE_INTERNAL, "crun exited %d: %s", WEXITSTATUS(status), tail);
	else
		ttrpc_error(j->sid, CODE_INTERNAL, "crun killed by signal %d: %s",
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0, tail);
}

/* First string of the "args" array in an OCI JSON document, for messages. */
static void json_args0(const uint8_t *js, size_t len, char *out, size_t cap)
{
	const char *s = memmem(js, len, "\"args\"", 6), *end = (const char *)js + len;
	size_t n = 0;
	snprintf(out, cap, "?");
	if (!s)
		return;
	for (s += 6; s < end && (*s == ' ' || *s == ':' || *s == '[' || *s == '\n' ||
				 *s == '\t' || *s == '\r'); s++)
		;
	if (s >= end || *s != '"')
		return;
	for (s++; s < end && *s != '"' && n + 1 < cap; s++) {
		if (*s == '\\' && s + 1 < end)
			s++;
		out[n++] = *s;
	}
	out[n] = 0;
	sanitize(out);
}

/* ---------- shared 9p rootfs ---------- */

static int mount_9p(const char *tag, const char *target, unsigned long flags)
{
	/* cache=mmap: coherent with the host's view (the share is live),
	 * while still allowing mmap of binaries; big msize cuts round trips. */
	static const char *opts[] = {
		"trans=virtio,version=9p2000.L,msize=524288,cache=mmap",
		"trans=virtio,version=9p2000.L,msize=131072,cache=mmap",
		"trans=virtio,version=9p2000.L,cache=mmap",
	};
	for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
		if (mount(tag, target, "9p", flags, opts[i]) == 0)
			return 0;
		if (errno != EINVAL)
			break;
	}
	return -1;
}

static struct share *share_find(const char *tag)
{
	for (struct share *sh = shares; sh; sh = sh->next)
		if (strcmp(sh->tag, tag) == 0)
			return sh;
	return NULL;
}

/* The share for tag, mounted (refs not taken yet); NULL with errno set. */
static struct share *share_get_mode(const char *tag, bool read_only)
{
	struct share *sh = share_find(tag);
	char dir[1040]; /* the run dir is < 1024 (checked) */
	if (sh)
		return sh;
	sh = calloc(1, sizeof *sh);
	if (!sh)
		die("out of memory");
	snprintf(sh->tag, sizeof sh->tag, "%s", tag);
	snprintf(dir, sizeof dir, "%s/shares", g_run_dir);
	snprintf(sh->path, sizeof sh->path, "%s/%s", dir, tag);
	mkdir(g_run_dir, 0700);
	mkdir(dir, 0700);
	if ((mkdir(sh->path, 0755) < 0 && errno != EEXIST) ||
	    mount_9p(tag, sh->path, read_only ? MS_RDONLY | MS_NOSUID | MS_NODEV : MS_NOSUID | MS_NODEV) < 0) {
		int e = errno;
		rmdir(sh->path);
		free(sh);
		errno = e;
		return NULL;
	}
	logmsg("mounted share %s%s", tag, read_only ? " read-only" : "");
	sh->next = shares;
	shares = sh;
	return sh;
}

static struct share *share_get(const char *tag)
{
	return share_get_mode(tag, false);
}

/* Drop one reference; the last one unmounts the share (the tag is free again). */
static void share_put(struct share *sh)
{
	struct share **pp;
	if (--sh->refs > 0)
		return;
	if (umount2(sh->path, 0) < 0 && umount2(sh->path, MNT_DETACH) < 0)
		logmsg("umount %s: %s", sh->path, strerror(errno));
	rmdir(sh->path);
	logmsg("unmounted share %s", sh->tag);
	for (pp = &shares; *pp && *pp != sh; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = sh->next;
	free(sh);
}

/* rootfs_path: relative, components of [A-Za-z0-9._-] separated by single
 * slashes, no "." or ".." component, bounded. */
#define MAX_ROOTFS_PATH 512
static bool valid_rootfs_path(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MAX_ROOTFS_PATH || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//"))
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-' || *c == '/'))
			return false;
	for (const char *c = s; *c;) {
		size_t l = strcspn(c, "/");
		if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += l;
		if (*c == '/')
			c++;
	}
	return true;
}

/*
 * Open rel (already validated) under the directory root without ever following a symlink
 * and without leaving root's filesystem: the share's content is written by tenant code in
 * the guest and by the host, so any component may be a symlink pointing anywhere. Each
 * component is opened with O_NOFOLLOW|O_DIRECTORY relative to the previous one; the
 * result is an O_PATH fd of the directory, to bind-mount via /proc/self/fd/N (no second
 * path walk, so swapping a component afterwards changes nothing). -1 with errno.
 */
static int open_beneath(const char *root, const char *rel)
{
	char comp[MAX_ROOTFS_PATH + 1];
	struct stat rst, st;
	int fd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &rst) < 0)
		goto fail;
	while (*rel) {
		size_t l = strcspn(rel, "/");
		memcpy(comp, rel, l);
		comp[l] = 0;
		rel += l;
		if (*rel == '/')
			rel++;
		int nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			goto fail;
		close(fd);
		fd = nfd;
		if (fstat(fd, &st) < 0)
			goto fail;
		if (!S_ISDIR(st.st_mode) || st.st_dev != rst.st_dev) {
			errno = !S_ISDIR(st.st_mode) ? ENOTDIR : EXDEV;
			goto fail;
		}
	}
	return fd;
fail:
	if (fd >= 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return -1;
}

/*
 * Put the container's rootfs in place: the share itself on rootfs (rootfs_path "", the tag
 * not in use as a shared mount), or the share mounted once under <run-dir>/shares and the
 * directory rootfs_path of it bound on rootfs. Answers the request on failure (-1).
 */
static int setup_rootfs(uint32_t sid, struct container *c, const char *tag, const char *rel,
			const char *target)
{
	struct share *sh;
	int fd;
	char src[64];

	if (!*rel && !share_find(tag)) {
		if (mount_9p(tag, target, 0) < 0) {
			/* A virtio-9p tag can be mounted only once at a time. */
			ttrpc_error(sid, errno == EBUSY ? CODE_FAILED_PRECONDITION : CODE_INTERNAL,
				    "mount 9p share %s: %s%s", tag, strerror(errno),
				    errno == EBUSY ? " (tag in use)" : "");
			return -1;
		}
		snprintf(c->direct_tag, sizeof c->direct_tag, "%s", tag);
		c->mounted = true;
		return 0;
	}
	for (struct container *o = containers; o; o = o->next)
		if (strcmp(o->direct_tag, tag) == 0) {
			ttrpc_error(sid, CODE_FAILED_PRECONDITION,
				    "share %s is the whole rootfs of container %s", tag, o->id);
			return -1;
		}
	if (!(sh = share_get(tag))) {
		ttrpc_error(sid, errno == EBUSY ? CODE_FAILED_PRECONDITION : CODE_INTERNAL,
			    "mount 9p share %s: %s", tag, strerror(errno));
		return -1;
	}
	sh->refs++; /* now ours: share_put() undoes all of the above */
	c->share = sh;
	if ((fd = open_beneath(sh->path, rel)) < 0) {
		int e = errno;
		ttrpc_error(sid, e == ENOENT ? CODE_NOT_FOUND : CODE_INVALID_ARGUMENT,
			    "rootfs_path %s in share %s: %s", rel, tag,
			    e == ELOOP || e == ENOTDIR ? "not a directory (symlinks are not followed)"
			    : e == EXDEV ? "crosses a mount point" : strerror(e));
		return -1;
	}
	snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
	if (mount(src, target, NULL, MS_BIND, NULL) < 0) {
		ttrpc_error(sid, CODE_INTERNAL, "bind %s/%s: %s", tag, rel, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	c->mounted = true;
	return 0;
}

/* ---------- containers ---------- */

static void remove_bundle(struct container *c)
{
	char path[PATH_MAX + 300];
	DIR *d;
	struct dirent *e;

	if (c->mounted) {
		snprintf(path, sizeof path, "%s/rootfs", c->bundle);
		if (umount2(path, MNT_DETACH) < 0)
			logmsg("umount %s: %s", path, strerror(errno));
		c->mounted = false;
	}
	c->direct_tag[0] = 0;
	if (c->share) {
		share_put(c->share);
		c->share = NULL;
	}
	/* Never recursive: only files we wrote and the (now empty) mount
	 * point. A rootfs that was already there (tests) stays untouched. */
	if ((d = opendir(c->bundle))) {
		while ((e = readdir(d)))
			if (e->d_type == DT_REG || e->d_type == DT_SOCK) {
				snprintf(path, sizeof path, "%s/%s", c->bundle, e->d_name);
				unlink(path);
			}
		closedir(d);
	}
	if (c->own_rootfs) {
		snprintf(path, sizeof path, "%s/rootfs", c->bundle);
		rmdir(path);
	}
	rmdir(c->bundle);
}

static void container_free(struct container *c)
{
	struct container **pp;
	for (pp = &containers; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	ncontainers--;
	if (c->init)
		proc_free(c->init, "container destroyed");
	while (c->execs) {
		struct proc *p = c->execs;
		c->execs = p->next;
		proc_free(p, "container destroyed");
	}
	remove_bundle(c);
	free(c);
	g_epoch++;
}

static void kill_procs(struct container *c, int sig)
{
	if (c->init && c->init->pid > 0 && !c->init->exited)
		kill(c->init->pid, sig);
	for (struct proc *p = c->execs; p; p = p->next)
		if (p->pid > 0 && !p->exited)
			kill(p->pid, sig);
}

static bool all_reaped(struct container *c)
{
	if (c->init && c->init->pid > 0 && !c->init->exited)
		return false;
	for (struct proc *p = c->execs; p; p = p->next)
		if (p->pid > 0 && !p->exited)
			return false;
	return true;
}

/* Destroy: wait for crun runs in flight, `crun delete -f`, wait (bounded)
 * for the SIGKILLed processes to be reaped so Waits get real statuses. */
static void destroy_step(struct container *c)
{
	if (c->jobs > 0)
		return;
	if (!c->delete_started) {
		char *args[] = { "delete", "-f", c->id, NULL };
		struct job *j = job_new(J_DELETE, 0, c, NULL);
		c->delete_started = true;
		kill_procs(c, SIGKILL);
		if (job_run(j, args, -1, -1, -1) < 0) {
			logmsg("spawn crun delete: %s", strerror(errno));
			job_free(j);
			c->delete_done = true;
		} else {
			return;
		}
	}
	if (!c->delete_done)
		return;
	if (!all_reaped(c) && now_ms() < c->destroy_deadline)
		return;
	/* Past the deadline: answer Waits as killed. */
	struct proc *p = c->init, *next = c->execs;
	for (; p; p = next, next = p ? p->next : NULL)
		if (!p->exited && p->pid > 0)
			proc_exited(p, SIGKILL); /* raw status "killed by 9" */
	ttrpc_reply(c->destroy_sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
	container_free(c);
}

/*
 * After `crun create` or `crun exec --detach` ended: read the new process's pid and, for a
 * terminal, take the pty master crun sent. Answers the request with the error on failure.
 */
static bool job_collect_process(struct job *j, int status, const char *what, pid_t *pid)
{
	struct proc *p = j->p;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char msg[64];

	if (ok && (*pid = read_pidfile(j->pidfile)) < 0) {
		ok = false;
		snprintf(msg, sizeof msg, "%s wrote no pid file", what);
		ttrpc_error(j->sid, CODE_INTERNAL, msg);
	} else if (!ok) {
		job_fail(j, status);
	}
	if (ok && p->terminal) {
		int m = console_receive(j);
		if (m < 0) {
			kill(*pid, SIGKILL);
			ok = false;
			ttrpc_error(j->sid, CODE_INTERNAL, "crun sent no terminal");
		} else {
			attach_pty(p, m, p->in_fd == -2);
		}
	}
	if (p->in_fd == -2)
		p->in_fd = -1;
	return ok;
}

static void job_done(struct job *j, int status)
{
	struct container *c = j->c;
	struct proc *p = j->p;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	pid_t pid = -1;

	c->jobs--;
	switch (j->kind) {
	case J_CREATE:
		ok = job_collect_process(j, status, "crun create", &pid);
		if (!ok) {
			/* crun removes its own state after a failed create. */
			if (c->state == C_DESTROYING)
				ttrpc_reply(c->destroy_sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
			container_free(c);
			job_free(j);
			return;
		}
		{
			/* The container's cgroup, for OOM accounting and GetStats
			 * (cgroup2 only). The kernel wrote it; still refuse "..". */
			char path[64], buf[4096], *s;
			snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
			if (read_file(path, buf, sizeof buf) > 0 && (s = strstr(buf, "0::/"))) {
				s += 3;
				s[strcspn(s, "\n")] = 0;
				if (!strstr(s, "/.."))
					snprintf(c->cgroup, sizeof c->cgroup, "/sys/fs/cgroup%s",
						 strcmp(s, "/") ? s : "");
			}
		}
		proc_set_pid(p, pid);
		if (c->state == C_CREATING)
			c->state = C_CREATED;
		ttrpc_reply(j->sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
		break;
	case J_START:
		if (!ok) {
			job_fail(j, status);
		} else {
			A(StartResponse) r = ISOLA__AGENT__V1__START_RESPONSE__INIT;
			if (c->state == C_CREATED)
				c->state = C_RUNNING;
			r.pid = c->init->pid;
			ttrpc_reply(j->sid, &r.base);
		}
		break;
	case J_EXEC:
		ok = job_collect_process(j, status, "crun exec", &pid);
		unlink(j->pidfile);
		if (!ok) {
			struct proc **pp;
			for (pp = &c->execs; *pp != p; pp = &(*pp)->next)
				;
			*pp = p->next;
			c->nexecs--;
			proc_free(p, "exec failed");
		} else {
			A(StartResponse) r = ISOLA__AGENT__V1__START_RESPONSE__INIT;
			r.pid = pid;
			ttrpc_reply(j->sid, &r.base); /* before a possible instant exit */
			proc_set_pid(p, pid);
		}
		break;
	case J_DELETE:
		if (!ok)
			logmsg("crun delete %s failed (status %d)", c->id, status);
		c->delete_done = true;
		break;
	}
	job_free(j);
	if (c->state == C_DESTROYING)
		destroy_step(c);
}

void proc_reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct job **jp;
		for (jp = &jobs; *jp && (*jp)->pid != pid; jp = &(*jp)->next)
			;
		if (*jp) {
			struct job *j = *jp;
			*jp = j->next;
			job_done(j, status);
			continue;
		}
		struct proc *p = NULL;
		for (struct container *c = containers; c && !p; c = c->next) {
			struct proc *q = c->init, *next = c->execs;
			for (; q && !p; q = next, next = q ? q->next : NULL)
				if (q->pid == pid && !q->exited)
					p = q;
		}
		bool found = p != NULL;
		if (p) {
			struct container *c = p->c;
			proc_exited(p, status);
			if (c->state == C_DESTROYING)
				destroy_step(c);
		}
		if (!found) {
			orphans[orphan_next].pid = pid;
			orphans[orphan_next].status = status;
			orphan_next = (orphan_next + 1) % ORPHANS;
		}
	}
}

int proc_timeout_ms(void)
{
	int64_t next = INT64_MAX, now = now_ms();
	for (struct job *j = jobs; j; j = j->next)
		if (j->deadline < next)
			next = j->deadline;
	for (struct container *c = containers; c; c = c->next)
		if (c->state == C_DESTROYING && c->delete_done && c->destroy_deadline < next)
			next = c->destroy_deadline;
	if (next == INT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now + 1);
}

void proc_on_timer(void)
{
	int64_t now = now_ms();
	for (struct job *j = jobs; j; j = j->next)
		if (j->deadline <= now) {
			logmsg("crun (pid %d) timed out, killing it", (int)j->pid);
			kill(j->pid, SIGKILL); /* the reaper answers the RPC */
			j->deadline = INT64_MAX;
		}
	for (struct container *c = containers; c; c = c->next)
		if (c->state == C_DESTROYING && c->delete_done && c->destroy_deadline <= now) {
			destroy_step(c);
			return; /* the list may have changed */
		}
}

/*
 * The host went away: forget every request of that connection without answering. Parked
 * reads never touched their pipe (the data stays for the next host), a parked write keeps
 * what it wrote and drops the rest, parked waits go (the status stays on the process). The
 * crun runs in flight finish, but their answers (stream ids of the old connection, which
 * the next one may reuse) are not sent: sid 0 is never answered.
 */
void proc_drop_parked(void)
{
	for (struct container *c = containers; c; c = c->next) {
		struct proc *p = c->init, *next = c->execs;
		for (; p; p = next, next = p ? p->next : NULL) {
			struct queue *qs[] = { &p->out[0].reads, &p->out[1].reads, &p->writes,
					       &p->waits };
			struct pending *pd;
			for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
				while ((pd = q_pop(qs[i])))
					unpark(p, pd);
			maybe_close_stdin(p); /* a CloseStdin waiting for dropped writes */
		}
		c->destroy_sid = 0;
	}
	for (struct job *j = jobs; j; j = j->next)
		j->sid = 0;
}

void proc_kill_all(void)
{
	for (struct container *c = containers; c; c = c->next) {
		kill_procs(c, SIGKILL);
		if (!g_pid1) {
			/* Tests on a host: leave no crun state behind. */
			char *argv[] = { (char *)g_crun, "delete", "-f", c->id, NULL };
			pid_t d = spawn(argv, devnull, devnull, devnull);
			if (d > 0)
				waitpid(d, NULL, 0);
		}
		if (c->mounted) {
			char path[PATH_MAX + 8];
			snprintf(path, sizeof path, "%s/rootfs", c->bundle);
			umount2(path, MNT_DETACH);
		}
	}
	for (struct share *sh = shares; sh; sh = sh->next)
		umount2(sh->path, MNT_DETACH);
}

/* ---------- RPC handlers ---------- */

static void rpc_get_version(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(GetVersionRequest, get_version_request, req);
	A(GetVersionResponse) r = ISOLA__AGENT__V1__GET_VERSION_RESPONSE__INIT;
	struct utsname u;
	char boot_id[64] = "";
	uname(&u);
	if (read_file("/proc/sys/kernel/random/boot_id", boot_id, sizeof boot_id) > 0)
		boot_id[strcspn(boot_id, "\n")] = 0;
	r.agent_version = AGENT_VERSION;
	r.kernel_release = u.release;
	r.kernel_version = u.version;
	r.machine = u.machine;
	r.boot_id = boot_id;
	ttrpc_reply(sid, &r.base);
	FREE(get_version_request, req);
}

static void rpc_create(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(CreateContainerRequest, create_container_request, req);
	struct container *c = NULL;
	struct job *j = NULL;
	char path[PATH_MAX + 32];
	int cfd[3] = { -1, -1, -1 };

	if (!valid_id(req->container_id)) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "invalid container id");
		goto out;
	}
	for (c = containers; c; c = c->next)
		if (strcmp(c->id, req->container_id) == 0) {
			ttrpc_error(sid, CODE_ALREADY_EXISTS, "container %s exists", c->id);
			c = NULL;
			goto out;
		}
	if (ncontainers >= MAX_CONTAINERS) {
		ttrpc_error(sid, CODE_RESOURCE_EXHAUSTED, "too many containers");
		goto out;
	}
	if (req->rootfs_tag[0] && !valid_id(req->rootfs_tag)) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "invalid rootfs tag");
		goto out;
	}
	/* Volume shares: mounted once, kept for the VM's life (no reference counting). */
	for (size_t i = 0; i < req->n_shares; i++) {
		const char *tag = req->shares[i]->tag;
		if (!valid_id(tag) || strcmp(tag, req->rootfs_tag) == 0) {
			ttrpc_error(sid, CODE_INVALID_ARGUMENT, "invalid volume share tag");
			goto out;
		}
		if (!share_find(tag) && !share_get_mode(tag, req->shares[i]->read_only)) {
			ttrpc_error(sid, errno == EBUSY ? CODE_FAILED_PRECONDITION : CODE_INTERNAL,
				    "mount 9p share %s: %s", tag, strerror(errno));
			goto out;
		}
	}
	if (req->rootfs_path[0] && (!req->rootfs_tag[0] || !valid_rootfs_path(req->rootfs_path))) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "invalid rootfs_path (relative, "
			    "[A-Za-z0-9._-] components, no \".\" or \"..\", at most %d bytes)",
			    MAX_ROOTFS_PATH);
		goto out;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		die("out of memory");
	snprintf(c->id, sizeof c->id, "%s", req->container_id);
	snprintf(c->bundle, sizeof c->bundle, "%s/bundles/%s", g_run_dir, c->id);
	c->state = C_CREATING;
	c->init = proc_new(c, "");
	c->next = containers;
	containers = c;
	ncontainers++;

	snprintf(path, sizeof path, "%s/bundles", g_run_dir);
	mkdir(g_run_dir, 0700);
	mkdir(path, 0700);
	if (mkdir(c->bundle, 0700) < 0 && errno != EEXIST)
		goto sys_fail;
	snprintf(path, sizeof path, "%s/config.json", c->bundle);
	if (write_file(path, req->oci_config_json.data, req->oci_config_json.len, 0600) < 0)
		goto sys_fail;
	snprintf(path, sizeof path, "%s/rootfs", c->bundle);
	if (req->rootfs_tag[0]) {
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			goto sys_fail;
		c->own_rootfs = true;
		if (setup_rootfs(sid, c, req->rootfs_tag, req->rootfs_path, path) < 0) {
			container_free(c);
			c = NULL;
			goto out;
		}
	} else if (access(path, F_OK) < 0) {
		/* Test mode: an empty tag means the rootfs is already there. */
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "no rootfs_tag and no %s", path);
		container_free(c);
		c = NULL;
		goto out;
	}

	if (make_stdio(c->init, req->stdin, req->terminal, cfd) < 0)
		goto sys_fail;
	j = job_new(J_CREATE, sid, c, c->init);
	json_args0(req->oci_config_json.data, req->oci_config_json.len, j->cmd, sizeof j->cmd);
	snprintf(j->pidfile, sizeof j->pidfile, "%s/pid", c->bundle);
	unlink(j->pidfile);
	if (req->terminal && console_listen(j) < 0)
		goto sys_fail;
	if (req->terminal && req->stdin)
		c->init->in_fd = -2; /* marker: dup the pty master for stdin */
	{
		char *args[] = { "create", "--bundle", c->bundle, "--pid-file", j->pidfile,
				 req->terminal ? "--console-socket" : c->id,
				 req->terminal ? j->console_path : NULL, c->id, NULL };
		if (job_run(j, args, cfd[0], cfd[1], cfd[2]) < 0)
			goto sys_fail;
	}
	close3(cfd); /* the container holds its ends now */
	goto out;

sys_fail:
	ttrpc_error(sid, CODE_INTERNAL, "create %s: %s", c->id, strerror(errno));
	close3(cfd);
	if (j)
		job_free(j);
	container_free(c);
out:
	FREE(create_container_request, req);
}

static void rpc_start(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(StartContainerRequest, start_container_request, req);
	struct container *c = find_container(req->container_id);
	if (!c)
		ttrpc_error(sid, CODE_NOT_FOUND, "container not found");
	else if (c->state != C_CREATED || c->jobs > 0 || c->init->exited)
		ttrpc_error(sid, CODE_FAILED_PRECONDITION, "container %s not in created state", c->id);
	else {
		struct job *j = job_new(J_START, sid, c, c->init);
		char *args[] = { "start", c->id, NULL };
		if (job_run(j, args, -1, -1, -1) < 0) {
			ttrpc_error(sid, CODE_INTERNAL, "spawn crun: %s", strerror(errno));
			job_free(j);
		}
	}
	FREE(start_container_request, req);
}

/* Make room for one more exec: drop the oldest one whose story is over. */
static bool exec_slot(struct container *c)
{
	struct proc **pp, **victim = NULL;
	if (c->nexecs < MAX_EXECS)
		return true;
	for (pp = &c->execs; *pp; pp = &(*pp)->next) {
		struct proc *p = *pp;
		if (p->exited && p->waited && !p->parked && (!victim || p->seq < (*victim)->seq))
			victim = pp;
	}
	if (!victim)
		return false;
	struct proc *v = *victim;
	*victim = v->next;
	c->nexecs--;
	proc_free(v, "evicted");
	return true;
}

static void rpc_exec(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(ExecProcessRequest, exec_process_request, req);
	struct container *c = find_container(req->container_id);
	struct proc *p = NULL;
	struct job *j = NULL;
	char path[PATH_MAX + 100];
	int cfd[3] = { -1, -1, -1 };

	if (!c) {
		ttrpc_error(sid, CODE_NOT_FOUND, "container not found");
		goto out;
	}
	if (!valid_id(req->exec_id)) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "invalid exec id");
		goto out;
	}
	if (c->state != C_RUNNING || c->init->exited) {
		ttrpc_error(sid, CODE_FAILED_PRECONDITION, "container %s not running", c->id);
		goto out;
	}
	for (p = c->execs; p; p = p->next)
		if (strcmp(p->exec_id, req->exec_id) == 0) {
			ttrpc_error(sid, CODE_ALREADY_EXISTS, "exec %s exists", p->exec_id);
			p = NULL;
			goto out;
		}
	if (!exec_slot(c)) {
		ttrpc_error(sid, CODE_RESOURCE_EXHAUSTED, "too many execs");
		goto out;
	}
	p = proc_new(c, req->exec_id);
	p->next = c->execs;
	c->execs = p;
	c->nexecs++;
	if (make_stdio(p, req->stdin, req->terminal, cfd) < 0)
		goto sys_fail;
	j = job_new(J_EXEC, sid, c, p);
	json_args0(req->process_json.data, req->process_json.len, j->cmd, sizeof j->cmd);
	snprintf(j->log, sizeof j->log, "%s/exec-%s.log", c->bundle, p->exec_id);
	snprintf(j->pidfile, sizeof j->pidfile, "%s/exec-%s.pid", c->bundle, p->exec_id);
	snprintf(path, sizeof path, "%s/exec-%s.json", c->bundle, p->exec_id);
	unlink(j->pidfile);
	if (write_file(path, req->process_json.data, req->process_json.len, 0600) < 0)
		goto sys_fail;
	if (req->terminal && console_listen(j) < 0)
		goto sys_fail;
	if (req->terminal && req->stdin)
		p->in_fd = -2;
	{
		char *args[] = { "exec", "--detach", "--pid-file", j->pidfile, "--process", path,
				 req->terminal ? "--console-socket" : c->id,
				 req->terminal ? j->console_path : NULL, c->id, NULL };
		if (job_run(j, args, cfd[0], cfd[1], cfd[2]) < 0)
			goto sys_fail;
	}
	close3(cfd);
	goto out;

sys_fail:
	ttrpc_error(sid, CODE_INTERNAL, "exec: %s", strerror(errno));
	close3(cfd);
	if (j)
		job_free(j);
	c->execs = p->next;
	c->nexecs--;
	proc_free(p, "exec failed");
out:
	FREE(exec_process_request, req);
}

static void rpc_signal(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(SignalProcessRequest, signal_process_request, req);
	struct proc *p = find_proc(sid, req->container_id, req->exec_id);
	if (!p)
		;
	else if (req->signal < 1 || req->signal > 64)
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "invalid signal %u", req->signal);
	else if (p->exited || p->pid <= 0)
		ttrpc_error(sid, CODE_NOT_FOUND, "process already exited");
	else if (kill(p->pid, req->signal) < 0)
		ttrpc_error(sid, CODE_INTERNAL, "kill: %s", strerror(errno));
	else
		ttrpc_reply(sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
	FREE(signal_process_request, req);
}

static void rpc_wait(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(WaitProcessRequest, wait_process_request, req);
	struct proc *p = find_proc(sid, req->container_id, req->exec_id);
	if (!p)
		;
	else if (p->exited)
		answer_wait(p, sid);
	else if (can_park(sid, p))
		park(&p->waits, p, sid);
	FREE(wait_process_request, req);
}

static void rpc_read(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(ReadStdioRequest, read_stdio_request, req);
	struct proc *p = find_proc(sid, req->container_id, req->exec_id);
	if (!p)
		;
	else if (req->stream != ISOLA__AGENT__V1__STDIO_STREAM__STDOUT &&
		 req->stream != ISOLA__AGENT__V1__STDIO_STREAM__STDERR)
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "invalid stream");
	else if (can_park(sid, p)) {
		struct stream *s = &p->out[req->stream];
		struct pending *pd = park(&s->reads, p, sid);
		pd->max = req->max_bytes == 0 || req->max_bytes > MAX_IO ? MAX_IO : req->max_bytes;
		if (s->eof)
			read_answer(p, req->stream);
		/* else: the loop polls s->fd now that a read is parked. A terminal
		 * whose pty has not arrived yet cannot happen: the process is only
		 * visible once crun create/exec finished. */
	}
	FREE(read_stdio_request, req);
}

static void rpc_write(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(WriteStdinRequest, write_stdin_request, req);
	struct proc *p = find_proc(sid, req->container_id, req->exec_id);
	if (!p)
		;
	else if (req->data.len > MAX_IO)
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "stdin data over %u bytes", MAX_IO);
	else if (p->in_fd < 0 || p->in_close)
		ttrpc_error(sid, CODE_FAILED_PRECONDITION, "stdin is not open");
	else if (parked_wr_bytes + req->data.len > MAX_PARKED_WR_BYTES)
		ttrpc_error(sid, CODE_RESOURCE_EXHAUSTED, "too much stdin data pending");
	else if (can_park(sid, p)) {
		struct pending *pd = park(&p->writes, p, sid);
		pd->wreq = req;
		parked_wr_bytes += req->data.len;
		if (pd == p->writes.head)
			write_some(p);
		return; /* req is owned by the pending entry */
	}
	FREE(write_stdin_request, req);
}

static void rpc_close_stdin(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(CloseStdinRequest, close_stdin_request, req);
	struct proc *p = find_proc(sid, req->container_id, req->exec_id);
	if (p) {
		/* Parked writes finish first, then EOF: the order the host sent. */
		p->in_close = true;
		maybe_close_stdin(p);
		ttrpc_reply(sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
	}
	FREE(close_stdin_request, req);
}

static void rpc_resize(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(ResizeTerminalRequest, resize_terminal_request, req);
	struct proc *p = find_proc(sid, req->container_id, req->exec_id);
	if (!p)
		;
	else if (!p->terminal || p->out[0].fd < 0)
		ttrpc_error(sid, CODE_FAILED_PRECONDITION, "process has no terminal");
	else if (req->width > 65535 || req->height > 65535)
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "terminal size out of range");
	else {
		struct winsize ws = { .ws_row = req->height, .ws_col = req->width };
		if (ioctl(p->out[0].fd, TIOCSWINSZ, &ws) < 0)
			ttrpc_error(sid, CODE_INTERNAL, "TIOCSWINSZ: %s", strerror(errno));
		else
			ttrpc_reply(sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
	}
	FREE(resize_terminal_request, req);
}

static void rpc_destroy(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(DestroyContainerRequest, destroy_container_request, req);
	struct container *c;
	/* Also finds a container whose create is still running. */
	for (c = containers; c && strcmp(c->id, req->container_id) != 0; c = c->next)
		;
	if (!c)
		ttrpc_error(sid, CODE_NOT_FOUND, "container not found");
	else if (c->state == C_DESTROYING)
		ttrpc_error(sid, CODE_FAILED_PRECONDITION, "destroy already in progress");
	else {
		c->state = C_DESTROYING;
		c->destroy_sid = sid;
		c->destroy_deadline = now_ms() + DESTROY_REAP_MS;
		kill_procs(c, SIGKILL);
		destroy_step(c);
	}
	FREE(destroy_container_request, req);
}

static uint64_t cg_value(struct container *c, const char *file, const char *key)
{
	char path[PATH_MAX + 32], buf[4096], *s = buf;
	if (!c->cgroup[0])
		return 0;
	snprintf(path, sizeof path, "%s/%s", c->cgroup, file);
	if (read_file(path, buf, sizeof buf) <= 0)
		return 0; /* missing (controller not enabled): 0 */
	if (key) {
		size_t kl = strlen(key);
		for (s = buf; s && strncmp(s, key, kl) != 0; s = strchr(s, '\n'), s = s ? s + 1 : s)
			;
		if (!s)
			return 0;
		s += kl;
	}
	return strtoull(s, NULL, 10); /* "max" and garbage read as 0 */
}

static void rpc_get_stats(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(GetStatsRequest, get_stats_request, req);
	struct container *c = find_container(req->container_id);
	if (!c)
		ttrpc_error(sid, CODE_NOT_FOUND, "container not found");
	else {
		A(GetStatsResponse) r = ISOLA__AGENT__V1__GET_STATS_RESPONSE__INIT;
		r.cpu_usage_usec = cg_value(c, "cpu.stat", "usage_usec ");
		r.memory_bytes = cg_value(c, "memory.current", NULL);
		r.pids = cg_value(c, "pids.current", NULL);
		ttrpc_reply(sid, &r.base);
	}
	FREE(get_stats_request, req);
}

/*
 * Writes cgroup.freeze and waits (bounded, 2 s) until cgroup.events says the cgroup reached
 * that state, so that "paused" means no process of the container runs any more.
 */
static int set_frozen(struct container *c, bool frozen)
{
	char path[PATH_MAX + 32], buf[512];
	const char *want = frozen ? "frozen 1" : "frozen 0";
	snprintf(path, sizeof path, "%s/cgroup.freeze", c->cgroup);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, frozen ? "1" : "0", 1);
	close(fd);
	if (n != 1)
		return -1;
	snprintf(path, sizeof path, "%s/cgroup.events", c->cgroup);
	for (int i = 0; i < 200; i++) {
		if (read_file(path, buf, sizeof buf) > 0 && strstr(buf, want))
			return 0;
		usleep(10000);
	}
	errno = ETIMEDOUT;
	return -1;
}

static void pause_or_resume(uint32_t sid, const uint8_t *data, size_t len, bool frozen)
{
	UNPACK(PauseContainerRequest, pause_container_request, req);
	struct container *c = find_container(req->container_id);
	if (!c)
		ttrpc_error(sid, CODE_NOT_FOUND, "container not found");
	else if (!c->cgroup[0])
		ttrpc_error(sid, CODE_FAILED_PRECONDITION, "container has no cgroup (not started?)");
	else if (set_frozen(c, frozen) < 0) {
		char msg[128];
		snprintf(msg, sizeof msg, "cannot %s the container's cgroup: %s", frozen ? "freeze" : "thaw",
			 strerror(errno));
		ttrpc_error(sid, CODE_INTERNAL, msg);
	} else
		ttrpc_reply(sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
	FREE(pause_container_request, req);
}

static void rpc_pause(uint32_t sid, const uint8_t *data, size_t len)
{
	pause_or_resume(sid, data, len, true);
}

static void rpc_resume(uint32_t sid, const uint8_t *data, size_t len)
{
	pause_or_resume(sid, data, len, false);
}

static void rpc_shutdown(uint32_t sid, const uint8_t *data, size_t len)
{
	UNPACK(ShutdownRequest, shutdown_request, req);
	ttrpc_reply(sid, &(A(Empty))ISOLA__AGENT__V1__EMPTY__INIT.base);
	g_shutdown_requested = true; /* main loop powers off */
	FREE(shutdown_request, req);
}

static const struct {
	const char *name;
	void (*fn)(uint32_t sid, const uint8_t *data, size_t len);
} methods[] = {
	{ "GetVersion", rpc_get_version },
	{ "CreateContainer", rpc_create },
	{ "StartContainer", rpc_start },
	{ "ExecProcess", rpc_exec },
	{ "SignalProcess", rpc_signal },
	{ "WaitProcess", rpc_wait },
	{ "ReadStdio", rpc_read },
	{ "WriteStdin", rpc_write },
	{ "CloseStdin", rpc_close_stdin },
	{ "ResizeTerminal", rpc_resize },
	{ "DestroyContainer", rpc_destroy },
	{ "Shutdown", rpc_shutdown },
	{ "GetStats", rpc_get_stats },
	{ "PauseContainer", rpc_pause },
	{ "ResumeContainer", rpc_resume },
	{ "ConfigureNetwork", rpc_configure_network },
	{ "BenchExec", rpc_bench_exec },
	{ "BenchChannel", rpc_bench_channel },
};

bool agent_dispatch(uint32_t sid, const char *method, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
		if (strcmp(methods[i].name, method) == 0) {
			methods[i].fn(sid, data ? data : (const uint8_t *)"", len);
			return true;
		}
	return false;
}

int proc_init(void)
{
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return -1;
	/* Orphaned container processes must come to us, not to the host's
	 * init, when we are not PID 1 (tests). */
	if (!g_pid1)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	mkdir(g_run_dir, 0700);
	return 0;
}
