/*
 * ConfigureNetwork: the guest side of a sandbox's network. The host says which NICs (by MAC
 * address) get which IPv4 addresses, MTU and routes; containers share this network namespace.
 * Plain ioctls, no netlink and no child processes: this runs inside the single poll loop, once
 * per sandbox, and is bounded (the NIC must appear within NIC_WAIT_MS).
 */
#include "agent.h"
#include "isola/agent/v1/agent.pb-c.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_NICS 8
#define MAX_ADDRS 8
#define MAX_ROUTES 64
#define NIC_WAIT_MS 5000

typedef Isola__Agent__V1__ConfigureNetworkRequest Request;

/* virtio_net and what it needs, from the initramfs's on-demand list (dependencies first). */
static int load_net_modules(void)
{
	static bool loaded;
	static const char *wanted[] = { "/failover.ko", "/net_failover.ko", "/virtio_net.ko" };
	char list[16384], *line, *save;
	if (loaded)
		return 0;
	if (read_file("/lib/modules/ondemand.list", list, sizeof list) <= 0)
		return 0; /* built in, or a test host */
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
			size_t w = strlen(wanted[i]);
			if (n <= w || strcmp(line + n - w, wanted[i]) != 0)
				continue;
			int fd = open(line, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return -1;
			int rc = (int)syscall(SYS_finit_module, fd, "", 0);
			int e = errno;
			close(fd);
			if (rc < 0 && e == ENOSYS)
				break; /* no module support: virtio_net is built in */
			if (rc < 0 && e != EEXIST) {
				errno = e;
				return -1;
			}
		}
	}
	loaded = true;
	return 0;
}

static bool parse_mac(const char *s, char out[18])
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[17] = 0;
	return true;
}

static bool parse_cidr(const char *s, struct in_addr *addr, int *prefix)
{
	char buf[32];
	char *slash, *end;
	if (strlen(s) >= sizeof buf)
		return false;
	snprintf(buf, sizeof buf, "%s", s);
	if (!(slash = strchr(buf, '/')))
		return false;
	*slash = 0;
	long p = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || p < 0 || p > 32)
		return false;
	*prefix = (int)p;
	return inet_pton(AF_INET, buf, addr) == 1;
}

static bool valid_hostname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
			return false;
	return true;
}

/* The interface whose address is mac (lowercase), waiting for the driver to register it. */
static int find_nic(const char *mac, char name[IFNAMSIZ])
{
	int64_t deadline = now_ms() + NIC_WAIT_MS;
	do {
		DIR *d = opendir("/sys/class/net");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[300], addr[64];
			if (e->d_name[0] == '.' || strlen(e->d_name) >= IFNAMSIZ)
				continue;
			snprintf(path, sizeof path, "/sys/class/net/%.*s/address", IFNAMSIZ - 1, e->d_name);
			if (read_file(path, addr, sizeof addr) >= 17 && strncmp(addr, mac, 17) == 0) {
				snprintf(name, IFNAMSIZ, "%.*s", IFNAMSIZ - 1, e->d_name);
				closedir(d);
				return 0;
			}
		}
		if (d)
			closedir(d);
		usleep(20000);
	} while (now_ms() < deadline);
	errno = ENODEV;
	return -1;
}

static void in_sockaddr(struct sockaddr *sa, struct in_addr a)
{
	struct sockaddr_in *in = (struct sockaddr_in *)sa;
	memset(in, 0, sizeof *in);
	in->sin_family = AF_INET;
	in->sin_addr = a;
}

static struct in_addr netmask(int prefix)
{
	struct in_addr m;
	m.s_addr = prefix == 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
	return m;
}

static int configure_nic(int s, const Isola__Agent__V1__NetworkInterface *nic, const char *name,
			 char *err, size_t errlen)
{
	struct ifreq ifr;
	if (nic->mtu) {
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_mtu = (int)nic->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			snprintf(err, errlen, "mtu %u on %s: %s", nic->mtu, name, strerror(errno));
			return -1;
		}
	}
	for (size_t i = 0; i < nic->n_ipv4_cidrs; i++) {
		struct in_addr a;
		int prefix;
		parse_cidr(nic->ipv4_cidrs[i], &a, &prefix); /* validated before */
		memset(&ifr, 0, sizeof ifr);
		/* a second address is an alias label, name:N */
		if (i == 0)
			snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		else
			snprintf(ifr.ifr_name, IFNAMSIZ, "%.*s:%u", IFNAMSIZ - 4, name, (unsigned)(i & 7));
		in_sockaddr(&ifr.ifr_addr, a);
		if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
			snprintf(err, errlen, "address %s on %s: %s", nic->ipv4_cidrs[i], name, strerror(errno));
			return -1;
		}
		in_sockaddr(&ifr.ifr_netmask, netmask(prefix));
		if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
			snprintf(err, errlen, "netmask of %s on %s: %s", nic->ipv4_cidrs[i], name, strerror(errno));
			return -1;
		}
	}
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		snprintf(err, errlen, "link up %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

static int add_route(int s, const Isola__Agent__V1__Route *r, const char *dev, char *err, size_t errlen)
{
	struct rtentry rt;
	struct in_addr dst, gw = { 0 };
	int prefix;
	char devbuf[IFNAMSIZ];
	parse_cidr(r->destination_cidr, &dst, &prefix);
	memset(&rt, 0, sizeof rt);
	in_sockaddr(&rt.rt_dst, dst);
	in_sockaddr(&rt.rt_genmask, netmask(prefix));
	rt.rt_flags = RTF_UP | (prefix == 32 ? RTF_HOST : 0);
	if (r->gateway[0]) {
		inet_pton(AF_INET, r->gateway, &gw);
		in_sockaddr(&rt.rt_gateway, gw);
		rt.rt_flags |= RTF_GATEWAY;
	}
	snprintf(devbuf, sizeof devbuf, "%.*s", IFNAMSIZ - 1, dev);
	rt.rt_dev = devbuf;
	if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "route %s via %s: %s", r->destination_cidr,
			 r->gateway[0] ? r->gateway : "(on-link)", strerror(errno));
		return -1;
	}
	return 0;
}

/* Checks every field before anything changes, so a bad request leaves the guest as it was. */
static const char *validate(const Request *req, char macs[][18])
{
	struct in_addr a;
	int p;
	if (req->hostname[0] && !valid_hostname(req->hostname))
		return "hostname must be 1-64 characters of [A-Za-z0-9.-]";
	if (req->n_interfaces > MAX_NICS || req->n_routes > MAX_ROUTES)
		return "too many interfaces or routes";
	for (size_t i = 0; i < req->n_interfaces; i++) {
		const Isola__Agent__V1__NetworkInterface *nic = req->interfaces[i];
		if (!parse_mac(nic->mac, macs[i]))
			return "interface mac must look like 52:54:00:12:34:56";
		if (nic->mtu && (nic->mtu < 68 || nic->mtu > 65535))
			return "mtu must be between 68 and 65535";
		if (nic->n_ipv4_cidrs > MAX_ADDRS)
			return "too many addresses on one interface";
		for (size_t j = 0; j < nic->n_ipv4_cidrs; j++)
			if (!parse_cidr(nic->ipv4_cidrs[j], &a, &p))
				return "addresses must be IPv4 CIDRs like 10.0.2.15/24";
	}
	for (size_t i = 0; i < req->n_routes; i++) {
		const Isola__Agent__V1__Route *r = req->routes[i];
		char mac[18];
		bool known = false;
		if (!parse_cidr(r->destination_cidr, &a, &p))
			return "route destinations must be IPv4 CIDRs like 0.0.0.0/0";
		if (r->gateway[0] && inet_pton(AF_INET, r->gateway, &a) != 1)
			return "route gateways must be IPv4 addresses";
		if (!parse_mac(r->interface_mac, mac))
			return "route interface_mac must look like 52:54:00:12:34:56";
		for (size_t j = 0; j < req->n_interfaces; j++)
			known = known || strcmp(mac, macs[j]) == 0;
		if (!known)
			return "a route names an interface that is not in the request";
	}
	return NULL;
}

void rpc_configure_network(uint32_t sid, const uint8_t *data, size_t len)
{
	Request *req = isola__agent__v1__configure_network_request__unpack(NULL, len, data);
	char macs[MAX_NICS][18], names[MAX_NICS][IFNAMSIZ], err[256] = "";
	const char *invalid;
	int s = -1;
	if (!req) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "malformed ConfigureNetworkRequest");
		return;
	}
	if ((invalid = validate(req, macs))) {
		ttrpc_error(sid, CODE_INVALID_ARGUMENT, "%s", invalid);
		goto out;
	}
	if (req->hostname[0] && sethostname(req->hostname, strlen(req->hostname)) < 0) {
		ttrpc_error(sid, CODE_INTERNAL, "sethostname: %s", strerror(errno));
		goto out;
	}
	if (req->n_interfaces && load_net_modules() < 0) {
		ttrpc_error(sid, CODE_INTERNAL, "cannot load virtio_net: %s", strerror(errno));
		goto out;
	}
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		ttrpc_error(sid, CODE_INTERNAL, "socket: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < req->n_interfaces; i++) {
		if (find_nic(macs[i], names[i]) < 0) {
			ttrpc_error(sid, CODE_FAILED_PRECONDITION, "no network interface with address %s appeared",
				    macs[i]);
			goto out;
		}
		if (configure_nic(s, req->interfaces[i], names[i], err, sizeof err) < 0) {
			ttrpc_error(sid, CODE_INTERNAL, "%s", err);
			goto out;
		}
		logmsg("network: %s (%s) up", names[i], macs[i]);
	}
	for (size_t i = 0; i < req->n_routes; i++) {
		char mac[18];
		const char *dev = NULL;
		parse_mac(req->routes[i]->interface_mac, mac);
		for (size_t j = 0; j < req->n_interfaces; j++)
			if (strcmp(mac, macs[j]) == 0)
				dev = names[j];
		if (add_route(s, req->routes[i], dev, err, sizeof err) < 0) {
			ttrpc_error(sid, CODE_INTERNAL, "%s", err);
			goto out;
		}
	}
	{
		Isola__Agent__V1__Empty empty = ISOLA__AGENT__V1__EMPTY__INIT;
		ttrpc_reply(sid, &empty.base);
	}
out:
	if (s >= 0)
		close(s);
	isola__agent__v1__configure_network_request__free_unpacked(req, NULL);
}
