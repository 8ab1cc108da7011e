/* isola-agent entry point and the event loop.
 *
 * One thread, one poll(): the channel, a signalfd for SIGCHLD, and the
 * stdio fds of processes that have a parked ReadStdio/WriteStdin. Nothing
 * else wakes us, so an idle guest costs no CPU (while no host is connected
 * the port is looked at every 100 ms: it reports POLLHUP all the time). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

bool is_stage2(int argc, char **argv);

#define MAX_POLL (MAX_PARKED_TOTAL + 8) /* one fd per parked request at most */

static int open_channel(const char *spec, bool *is_socket)
{
	int fd;
	*is_socket = false;
	if (!spec)
		return open_agent_port();
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(spec + 5) >= sizeof sa.sun_path)
			return -1;
		strcpy(sa.sun_path, spec + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			close(fd);
			return -1;
		}
		*is_socket = true;
		return fd;
	}
	return open(spec, O_RDWR | O_CLOEXEC | O_NOCTTY);
}

/* The host side of the virtio port closed (read 0, POLLHUP, or a write saw
 * HUP): drop its requests and partial frame, so the next connection starts
 * clean. The port reports POLLHUP all the time while no host is connected:
 * look again in 100 ms instead of spinning. Returns when to look. */
static int64_t host_gone(bool *host_up)
{
	if (*host_up)
		logmsg("host disconnected");
	*host_up = false;
	proc_drop_parked();
	ttrpc_reset();
	return now_ms() + 100;
}

static void usage(void)
{
	fprintf(stderr, "usage: isola-agent [--channel unix:PATH|DEVICE] [--crun PATH] "
			"[--run-dir DIR]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *channel = NULL;
	bool is_socket;
	int chan, sfd;
	sigset_t mask;

	g_pid1 = getpid() == 1;
	if (g_pid1 && !is_stage2(argc, argv))
		pid1_stage1(argc, argv); /* re-execs us from the tmpfs root */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--channel") && i + 1 < argc)
			channel = argv[++i];
		else if (!strcmp(argv[i], "--crun") && i + 1 < argc)
			g_crun = argv[++i];
		else if (!strcmp(argv[i], "--run-dir") && i + 1 < argc)
			g_run_dir = argv[++i];
		else if (!strcmp(argv[i], "--isola-stage2"))
			;
		else if (!g_pid1) /* the kernel may pass stray arguments to init */
			usage();
	}

	if (strlen(g_run_dir) >= 1024)
		usage();
	if (g_pid1) {
		pid1_stage2();
		setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	}
	ensure_stdio();

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN); /* a closed stdin pipe is EPIPE, not death */
	if (proc_init() < 0)
		die("init: %s", strerror(errno));

	chan = open_channel(channel, &is_socket);
	if (chan < 0)
		die("cannot open agent channel %s: %s", channel ? channel : "isola.agent",
		    strerror(errno));
	set_nonblock(chan);
	ttrpc_init(chan);
	logmsg("ready");

	static struct pollfd pfd[MAX_POLL];
	static struct poll_ref ref[MAX_POLL];
	int64_t chan_retry = 0; /* device closed by the host: retry at this time */
	bool host_up = false;   /* for logging transitions only */

	while (!g_shutdown_requested) {
		int n = 0, timeout = proc_timeout_ms();
		bool chan_on = chan_retry == 0, chan_gone = false;
		if (chan_on)
			pfd[n++] = (struct pollfd){ .fd = chan, .events = POLLIN };
		else {
			int t = (int)(chan_retry - now_ms());
			t = t < 0 ? 0 : t;
			timeout = timeout < 0 || t < timeout ? t : timeout;
		}
		int sig_idx = n;
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		int first = n;
		n += proc_pollfds(pfd + n, ref + n, MAX_POLL - n);

		int r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (r <= 0) {
			proc_on_timer();
			if (!chan_on && now_ms() >= chan_retry)
				chan_retry = 0;
			continue;
		}

		/* Handlers may free processes that refs point to. */
		uint64_t epoch = g_epoch;
		if (pfd[sig_idx].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si)
				;
			proc_reap();
		}
		if (chan_on && pfd[0].revents) {
			if ((pfd[0].revents & POLLHUP) && !is_socket && g_pid1) {
				/* virtio-serial: the host side is closed now. What it
				 * sent and we have not read yet is dropped like its
				 * partial frame: reading on could run a ReadStdio
				 * whose answer (pipe data) could not be delivered. */
				ttrpc_drain();
				chan_gone = true;
			} else {
				int rr = ttrpc_on_readable();
				if (rr > 0 && !host_up) {
					logmsg("host connected");
					host_up = true;
				}
				chan_gone = rr < 0;
			}
		}
		/* Before the stdio events: nothing is read from a pipe for a host
		 * that is gone. */
		if (chan_gone && (is_socket || !g_pid1)) {
			logmsg("channel closed, exiting");
			break;
		}
		if (chan_gone || (ttrpc_broken() && chan_retry == 0))
			chan_retry = host_gone(&host_up);
		for (int i = first; i < n && epoch == g_epoch; i++)
			proc_on_event(&ref[i], pfd[i].revents);
		proc_on_timer();
		/* A write (answering a reaped process, a read...) saw HUP. */
		if (ttrpc_broken() && chan_retry == 0) {
			if (is_socket || !g_pid1) {
				logmsg("channel closed, exiting");
				break;
			}
			chan_retry = host_gone(&host_up);
		}
	}

	/* Shutdown: everything dies, data is synced, the VM powers off. */
	proc_kill_all();
	if (g_pid1) {
		kill(-1, SIGKILL);
		sync();
		umount2("/run", MNT_DETACH);
	}
	logmsg("powering off");
	poweroff();
}
