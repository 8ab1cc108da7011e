/*
 * isola-jailer: starts one sandbox's hypervisor confined, then becomes it (exec), so the pid
 * the supervisor holds is the hypervisor's.
 *
 * In order: join the sandbox's cgroups and network namespace; a new session; a new mount
 * namespace whose root is an empty tmpfs holding only the paths given with --bind and --dev
 * (each at its host path, so the hypervisor's arguments need no rewriting) plus /usr read-only
 * and a /proc that shows only processes of the sandbox's uid;
 * the host root detached; rlimits; every inherited descriptor closed; the sandbox's own uid and
 * gid with no supplementary groups; every capability dropped except those named with
 * --keep-cap; no_new_privs; a clean environment.
 *
 * Usage: isola-jailer --uid N --gid N --root DIR [--cgroup DIR]... [--netns PATH]
 *          [--bind PATH[:ro]]... [--dev PATH]... [--tap NAME]... [--keep-cap NAME]...
 *          [--rlimit NAME=N]...
 *          -- PROGRAM [ARG]...
 *
 * Exit status 125 (and one line on stderr) when confinement fails: the hypervisor never runs
 * unconfined.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#define JAIL_FAILED 125
#define MAX_ITEMS 64

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("isola-jailer: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	va_end(ap);
	exit(JAIL_FAILED);
}

struct bind {
	const char *path;
	bool ro;
};

struct options {
	long uid, gid;
	const char *root;
	const char *netns;
	const char *cgroups[MAX_ITEMS];
	int ncgroups;
	struct bind binds[MAX_ITEMS];
	int nbinds;
	const char *devs[MAX_ITEMS];
	int ndevs;
	const char *taps[MAX_ITEMS];
	int ntaps;
	int keep_caps[MAX_ITEMS];
	int nkeep;
	struct { int resource; rlim_t value; } rlimits[MAX_ITEMS];
	int nrlimits;
	char **argv;
};

static long parse_id(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v >= 0xfffffffeL) {
		errno = 0;
		die("%s must be a number above 0 (never root), got \"%s\"", what, s);
	}
	return v;
}

static int cap_by_name(const char *name)
{
	static const struct { const char *name; int cap; } known[] = {
		{"dac_override", CAP_DAC_OVERRIDE},
		{"fowner", CAP_FOWNER},
		{"net_bind_service", CAP_NET_BIND_SERVICE},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (!strcmp(name, known[i].name))
			return known[i].cap;
	errno = 0;
	die("--keep-cap %s: only dac_override, fowner and net_bind_service may be kept", name);
	return -1;
}

static void parse_rlimit(struct options *o, const char *spec)
{
	static const struct { const char *name; int resource; } known[] = {
		{"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"core", RLIMIT_CORE},
		{"fsize", RLIMIT_FSIZE}, {"memlock", RLIMIT_MEMLOCK},
	};
	const char *eq = strchr(spec, '=');
	errno = 0;
	if (!eq)
		die("--rlimit %s: expected NAME=VALUE", spec);
	char *end;
	unsigned long long v = strtoull(eq + 1, &end, 10);
	if (*end || eq[1] == '\0')
		die("--rlimit %s: the value must be a number", spec);
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (strlen(known[i].name) == (size_t)(eq - spec) && !strncmp(spec, known[i].name, eq - spec)) {
			o->rlimits[o->nrlimits].resource = known[i].resource;
			o->rlimits[o->nrlimits].value = (rlim_t)v;
			o->nrlimits++;
			return;
		}
	}
	die("--rlimit %s: unknown limit", spec);
}

static void need_absolute(const char *path, const char *what)
{
	errno = 0;
	if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
		die("%s must be an absolute, normalised path, got \"%s\"", what, path);
}

static void parse(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof *o);
	o->uid = o->gid = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			o->argv = &argv[i + 1];
			break;
		}
		errno = 0;
		if (i + 1 >= argc)
			die("%s needs a value", a);
		const char *v = argv[++i];
		if (o->ncgroups >= MAX_ITEMS || o->nbinds >= MAX_ITEMS || o->ndevs >= MAX_ITEMS ||
		    o->nkeep >= MAX_ITEMS || o->nrlimits >= MAX_ITEMS || o->ntaps >= MAX_ITEMS)
			die("too many options");
		if (!strcmp(a, "--uid")) {
			o->uid = parse_id(v, "--uid");
		} else if (!strcmp(a, "--gid")) {
			o->gid = parse_id(v, "--gid");
		} else if (!strcmp(a, "--root")) {
			need_absolute(v, "--root");
			o->root = v;
		} else if (!strcmp(a, "--netns")) {
			o->netns = v;
		} else if (!strcmp(a, "--cgroup")) {
			need_absolute(v, "--cgroup");
			o->cgroups[o->ncgroups++] = v;
		} else if (!strcmp(a, "--bind")) {
			size_t n = strlen(v);
			bool ro = n > 3 && !strcmp(v + n - 3, ":ro");
			char *path = strndup(v, ro ? n - 3 : n);
			need_absolute(path, "--bind");
			o->binds[o->nbinds].path = path;
			o->binds[o->nbinds].ro = ro;
			o->nbinds++;
		} else if (!strcmp(a, "--dev")) {
			need_absolute(v, "--dev");
			if (strncmp(v, "/dev/", 5))
				die("--dev %s: only paths under /dev", v);
			o->devs[o->ndevs++] = v;
		} else if (!strcmp(a, "--tap")) {
			if (strlen(v) == 0 || strlen(v) >= IFNAMSIZ || strchr(v, '/'))
				die("--tap %s: not an interface name", v);
			o->taps[o->ntaps++] = v;
		} else if (!strcmp(a, "--keep-cap")) {
			o->keep_caps[o->nkeep++] = cap_by_name(v);
		} else if (!strcmp(a, "--rlimit")) {
			parse_rlimit(o, v);
		} else {
			die("unknown option %s", a);
		}
	}
	errno = 0;
	if (o->uid < 0 || o->gid < 0 || !o->root)
		die("--uid, --gid and --root are required");
	if (!o->argv || !o->argv[0])
		die("no program after --");
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", path);
	ssize_t n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text))
		die("write %s", path);
	close(fd);
}

static void join_cgroups(const struct options *o)
{
	char path[4096], pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	for (int i = 0; i < o->ncgroups; i++) {
		if (snprintf(path, sizeof path, "%s/cgroup.procs", o->cgroups[i]) >= (int)sizeof path) {
			errno = ENAMETOOLONG;
			die("cgroup %s", o->cgroups[i]);
		}
		write_file(path, pid);
	}
}

/* mkdir -p for a path inside the new root (every component a real directory we make). */
static void make_dirs(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		die("path %s", path);
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			die("mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		die("mkdir %s", buf);
}

/* Makes the mount point for host path `path` inside the new root: a directory or an empty file. */
static void make_mount_point(const char *root, const char *path, bool directory, char *out, size_t size)
{
	if (snprintf(out, size, "%s%s", root, path) >= (int)size) {
		errno = ENAMETOOLONG;
		die("path %s", path);
	}
	if (directory) {
		make_dirs(out);
		return;
	}
	char *slash = strrchr(out, '/');
	*slash = '\0';
	make_dirs(out);
	*slash = '/';
	int fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno != EEXIST)
		die("create %s", out);
	if (fd >= 0)
		close(fd);
}

static void bind_into(const char *root, const char *path, unsigned long extra_flags)
{
	struct stat st;
	char target[4096];
	if (stat(path, &st))
		die("bind %s", path);
	make_mount_point(root, path, S_ISDIR(st.st_mode), target, sizeof target);
	/* Recursive: mounts below (volumes) come along, and as slaves they keep arriving later. */
	if (mount(path, target, NULL, MS_BIND | MS_REC, NULL))
		die("bind %s", path);
	if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | extra_flags, NULL))
		die("restrict %s", path);
}

/* The host's /bin, /lib, ... symlinks into /usr, so that the dynamic loader finds its libraries. */
static void copy_usr_links(const char *root)
{
	static const char *names[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	char host[64], link[256], target[4096];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(host, sizeof host, "/%s", names[i]);
		ssize_t n = readlink(host, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		snprintf(target, sizeof target, "%s/%s", root, names[i]);
		if (symlink(link, target))
			die("symlink %s", target);
	}
}

/*
 * /dev: its own small tmpfs (the root's forbids device nodes). The harmless nodes are bound from
 * the host; each --dev node (/dev/kvm, /dev/net/tun), which hosts often keep at mode 0600, is made
 * anew with the host node's numbers, owned by the sandbox's uid alone.
 */
static void make_dev(const struct options *o)
{
	char dev[4096], target[4096];
	snprintf(dev, sizeof dev, "%s/dev", o->root);
	if (mkdir(dev, 0755))
		die("mkdir %s", dev);
	if (mount("isola-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"))
		die("mount the jail's /dev");
	static const char *always[] = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"};
	for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
		bind_into(o->root, always[i], MS_NOSUID | MS_NOEXEC);
	for (int i = 0; i < o->ndevs; i++) {
		struct stat st;
		if (stat(o->devs[i], &st) || !S_ISCHR(st.st_mode))
			die("%s is not a character device on this host", o->devs[i]);
		make_mount_point(o->root, o->devs[i], false, target, sizeof target);
		if (unlink(target))
			die("unlink %s", target);
		if (mknod(target, S_IFCHR | 0600, st.st_rdev))
			die("mknod %s", target);
		if (chown(target, o->uid, o->gid))
			die("chown %s", target);
	}
}

static void build_root(const struct options *o)
{
	if (unshare(CLONE_NEWNS))
		die("unshare the mount namespace");
	/* Nothing we mount leaks back to the host; the host's later mounts still reach us. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL))
		die("make / a slave");
	if (mount("isola-jail", o->root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=1024"))
		die("mount the jail root on %s", o->root);
	bind_into(o->root, "/usr", MS_RDONLY | MS_NOSUID | MS_NODEV);
	copy_usr_links(o->root);
	for (int i = 0; i < o->nbinds; i++)
		bind_into(o->root, o->binds[i].path,
			  MS_NOSUID | MS_NODEV | MS_NOEXEC | (o->binds[i].ro ? MS_RDONLY : 0));
	make_dev(o);
	/* QEMU's 9p server reaches xattrs through /proc/self/fd. This procfs instance shows a
	 * process only to its own uid (hidepid) and nothing but processes (subset=pid). */
	char proc[4096];
	snprintf(proc, sizeof proc, "%s/proc", o->root);
	if (mkdir(proc, 0555))
		die("mkdir %s", proc);
	if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible,subset=pid"))
		die("mount a private /proc");

	char old[4096];
	snprintf(old, sizeof old, "%s/.host", o->root);
	if (mkdir(old, 0700))
		die("mkdir %s", old);
	if (chdir(o->root))
		die("chdir %s", o->root);
	if (syscall(SYS_pivot_root, ".", ".host"))
		die("pivot_root into %s", o->root);
	if (umount2("/.host", MNT_DETACH))
		die("detach the host root");
	if (rmdir("/.host"))
		die("rmdir /.host");
	if (chdir("/"))
		die("chdir /");
	/* The root itself becomes read-only: the hypervisor can create nothing outside its binds. */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		die("make the jail root read-only");
}

/*
 * Hands the sandbox's taps (persistent, made by the supervisor in the sandbox's network
 * namespace) to its uid and gid, so that QEMU can open them without CAP_NET_ADMIN.
 */
static void own_taps(const struct options *o)
{
	for (int i = 0; i < o->ntaps; i++) {
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die("open /dev/net/tun");
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
		strncpy(ifr.ifr_name, o->taps[i], IFNAMSIZ - 1);
		if (ioctl(fd, TUNSETIFF, &ifr))
			die("attach tap %s", o->taps[i]);
		if (ioctl(fd, TUNSETOWNER, (unsigned long)o->uid) || ioctl(fd, TUNSETGROUP, (unsigned long)o->gid))
			die("give tap %s to uid %ld", o->taps[i], o->uid);
		close(fd);
	}
}

static void drop_privileges(const struct options *o)
{
	uint64_t keep = 0;
	for (int i = 0; i < o->nkeep; i++)
		keep |= 1ULL << o->keep_caps[i];
	for (int cap = 0; cap <= 63; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			die("drop capability %d from the bounding set", cap);
	}
	if (setgroups(0, NULL))
		die("setgroups");
	if (setresgid(o->gid, o->gid, o->gid))
		die("setresgid %ld", o->gid);
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		die("keep capabilities across setuid");
	if (setresuid(o->uid, o->uid, o->uid))
		die("setresuid %ld", o->uid);
	struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0}};
	data[0].effective = data[0].permitted = data[0].inheritable = (uint32_t)keep;
	data[1].effective = data[1].permitted = data[1].inheritable = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &header, data))
		die("set capabilities");
	for (int i = 0; i < o->nkeep; i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, o->keep_caps[i], 0, 0))
			die("raise ambient capability %d", o->keep_caps[i]);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("no_new_privs");
}

int main(int argc, char **argv)
{
	struct options o;
	parse(argc, argv, &o);

	int netns = -1;
	if (o.netns) {
		netns = open(o.netns, O_RDONLY | O_CLOEXEC);
		if (netns < 0)
			die("open network namespace %s", o.netns);
	}
	join_cgroups(&o);
	if (netns >= 0) {
		if (setns(netns, CLONE_NEWNET))
			die("join network namespace %s", o.netns);
		close(netns);
	}
	own_taps(&o);
	/* Its own session: a terminal's signals never reach it, and it outlives its supervisor. */
	setsid();
	build_root(&o);
	for (int i = 0; i < o.nrlimits; i++) {
		struct rlimit r = {o.rlimits[i].value, o.rlimits[i].value};
		if (setrlimit(o.rlimits[i].resource, &r))
			die("setrlimit %d", o.rlimits[i].resource);
	}
	/* Nothing of the supervisor's reaches the hypervisor but stdin, stdout and stderr. */
	if (syscall(SYS_close_range, 3, ~0U, 0))
		die("close inherited descriptors");
	drop_privileges(&o);
	char *env[] = {"PATH=/usr/bin:/bin", NULL};
	execve(o.argv[0], o.argv, env);
	die("exec %s", o.argv[0]);
}
