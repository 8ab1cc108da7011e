/* PID-1 duties: move off the initramfs root, mount the API filesystems,
 * load modules, find the agent port, power off. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

#define STAGE2 "--isola-stage2"

void poweroff(void)
{
	sync();
	if (g_pid1) {
		reboot(RB_POWER_OFF);
		for (;;)
			pause(); /* PID 1 must never exit: that panics the kernel */
	}
	exit(0);
}

void die(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	logmsg("fatal: %s", buf);
	if (g_pid1)
		poweroff();
	exit(1);
}

static void mkmount(const char *src, const char *dst, const char *type, unsigned long fl,
		    const char *opts)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, fl, opts) < 0 && errno != EBUSY)
		logmsg("mount %s on %s: %s", type, dst, strerror(errno));
}

/* ---------- stage 1: initramfs -> tmpfs root ---------- */

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st)
{
	int in = openat(sdir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);
	off_t left = st->st_size;
	int rc = 0;
	if (in < 0 || out < 0)
		rc = -1;
	while (rc == 0 && left > 0) {
		ssize_t n = sendfile(out, in, NULL, left > (1 << 30) ? (1 << 30) : left);
		if (n <= 0)
			rc = -1;
		else
			left -= n;
	}
	if (out >= 0) {
		fchown(out, st->st_uid, st->st_gid);
		fchmod(out, st->st_mode & 07777); /* umask and suid bits */
		close(out);
	}
	if (in >= 0)
		close(in);
	return rc;
}

/* Move one entry that is not a directory from sdir to ddir. */
static void move_leaf(int sdir, int ddir, const char *n, const struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		if (copy_file(sdir, ddir, n, st) < 0)
			die("copy %s: %s", n, strerror(errno));
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t l = readlinkat(sdir, n, target, sizeof target - 1);
		if (l >= 0) {
			target[l] = 0;
			symlinkat(target, ddir, n);
			fchownat(ddir, n, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
		}
	} else {
		/* device nodes (dev/console), fifos, sockets */
		mknodat(ddir, n, st->st_mode, st->st_rdev);
		fchownat(ddir, n, st->st_uid, st->st_gid, 0);
	}
	unlinkat(sdir, n, 0);
}

/*
 * Give the tmpfs at ddir the initramfs's content without copying it: every top-level
 * directory is bind-mounted from the initramfs (13 MB copied under emulation was a
 * measurable part of the boot), everything else at the top (/init, symlinks) is moved.
 */
static void graft_root(int sdir, int ddir, dev_t dev)
{
	DIR *d = fdopendir(dup(sdir));
	struct dirent *e;
	if (!d)
		die("opendir: %s", strerror(errno));
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		struct stat st;
		char src[300], dst[320];
		if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "newroot"))
			continue;
		if (fstatat(sdir, n, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue; /* mount points (/proc) */
		if (!S_ISDIR(st.st_mode)) {
			move_leaf(sdir, ddir, n, &st);
			continue;
		}
		snprintf(src, sizeof src, "/%s", n);
		snprintf(dst, sizeof dst, "/newroot/%s", n);
		if (mkdirat(ddir, n, st.st_mode & 07777) < 0 && errno != EEXIST)
			die("mkdir %s: %s", dst, strerror(errno));
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			die("bind %s: %s", src, strerror(errno));
	}
	closedir(d);
}

void pid1_stage1(int argc, char **argv)
{
	char cmdline[4096] = "";
	struct stat st;
	(void)argc;

	/* Boot-floor measurement: power off as the very first thing. */
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", 0, NULL) == 0) {
		read_file("/proc/cmdline", cmdline, sizeof cmdline);
		umount("/proc");
	}
	if (strstr(cmdline, "isola.poweroff_at_init"))
		reboot(RB_POWER_OFF);

	/* The initramfs root cannot be pivot_root'ed away from, and crun
	 * must pivot_root (never run with pivot disabled). Do what
	 * switch_root does, but graft instead of copying: a tmpfs with the
	 * initramfs's directories bound into it becomes "/". */
	if (stat("/", &st) < 0)
		die("stat /: %s", strerror(errno));
	mkdir("/newroot", 0755);
	if (mount("tmpfs", "/newroot", "tmpfs", 0, "mode=0755") < 0)
		die("mount tmpfs: %s", strerror(errno));
	int s = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int t = open("/newroot", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s < 0 || t < 0)
		die("open root: %s", strerror(errno));
	graft_root(s, t, st.st_dev);
	close(s);
	close(t);
	if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		die("switch root: %s", strerror(errno));
	const char *self = argv[0] && argv[0][0] == '/' ? argv[0] : "/init";
	char *nargv[] = { (char *)self, STAGE2, NULL };
	execv(self, nargv);
	die("re-exec %s: %s", self, strerror(errno));
}

/* ---------- stage 2: a normal init ---------- */

static void enable_controllers(void)
{
	static const char *ctl[] = { "+cpu", "+memory", "+pids", "+io", "+cpuset" };
	int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (size_t i = 0; i < sizeof ctl / sizeof *ctl; i++)
		if (write(fd, ctl[i], strlen(ctl[i])) < 0) {
			/* not built in this kernel: fine */
		}
	close(fd);
}

/* Whether the machine has PCI devices (q35); microvm has none, so no virtio_pci stack. */
static bool pci_present(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	bool any = false;
	while (d && !any && (e = readdir(d)))
		any = e->d_name[0] != '.';
	if (d)
		closedir(d);
	return any;
}

static void load_modules(void)
{
	char list[16384], *line, *save;
	bool pci = pci_present();
	if (read_file("/lib/modules/load.list", list, sizeof list) <= 0)
		return;
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '/')
			continue;
		if (!pci && strstr(line, "/virtio_pci"))
			continue; /* loading and signature-checking it is wasted time under emulation */
		int fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			logmsg("module %s: %s", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) {
			int e = errno;
			close(fd);
			if (e == ENOSYS) {
				/* a kernel without module support (the minimal one) has it all built in */
				logmsg("kernel has no module support; drivers are built in");
				return;
			}
			logmsg("module %s: %s", line, strerror(e));
			continue;
		}
		close(fd);
	}
}

static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			logmsg("lo up: %s", strerror(errno));
	}
	close(s);
}

void pid1_stage2(void)
{
	mkmount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mkmount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mkmount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	ensure_stdio(); /* before any other open */
	log_open_kmsg();
	mkmount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=0620,gid=5");
	unlink("/dev/ptmx");
	if (symlink("pts/ptmx", "/dev/ptmx") < 0)
		logmsg("/dev/ptmx: %s", strerror(errno));
	mkmount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mkmount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	mkmount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mkmount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		"nsdelegate");
	enable_controllers();
	load_modules();
	if (sethostname("isola", 5) < 0)
		logmsg("sethostname: %s", strerror(errno));
	loopback_up();
}

/* The virtio-serial port QEMU named `name`, waiting up to timeout_ms for it to appear. */
int open_named_port(const char *name, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[300], found[64];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
			if (read_file(path, found, sizeof found) <= 0)
				continue;
			found[strcspn(found, "\n")] = 0;
			if (strcmp(found, name) != 0)
				continue;
			snprintf(path, sizeof path, "/dev/%s", e->d_name);
			int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
			if (fd >= 0) {
				closedir(d);
				return fd;
			}
		}
		if (d)
			closedir(d);
		if (now_ms() > deadline)
			return -1;
		usleep(10000);
	}
}

/* The virtio-serial port named "isola.agent" (QEMU's name=isola.agent). */
int open_agent_port(void)
{
	return open_named_port("isola.agent", 5000);
}

bool is_stage2(int argc, char **argv);
bool is_stage2(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], STAGE2))
			return true;
	return false;
}
