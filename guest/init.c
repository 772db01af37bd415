/* SPDX-License-Identifier: ISC */
/*
 * gitnet-init: PID 1 of the gitnet guest, and its /sbin/poweroff.
 *
 * As PID 1 it mounts /dev, /proc and /sys, turns Ctrl-Alt-Del into SIGINT
 * (reboot(RB_DISABLE_CAD): that is how `xl reboot` arrives), loads the
 * modules listed in /lib/modules/load.list (written by guest/mkimage in
 * dependency order), reads its configuration (see "Configuration" below),
 * brings lo and the NICs up, mounts the state disk on /state, deletes what
 * only the boot needed from the initramfs (which is RAM: the loaded modules'
 * files, mke2fs and its libraries) and then runs
 * the router in its own process: the main
 * thread calls router_main() (src/router_main.c, linked in from
 * librouter.a), so the guest runs one program in one process. It never
 * exits: PID 1 exiting panics the kernel (and a panic reboots: panic=N from
 * the command line, else 10 s).
 *
 * Threads and signals: before any thread exists, the main thread blocks
 * every signal init or the router reads, so all threads inherit the mask and
 * each signal reaches exactly one signalfd. SIGTERM, SIGINT, SIGUSR1 and
 * SIGHUP are the router's (its signalfd, in the main thread); SIGCHLD,
 * SIGPWR and SIGUSR2 are read by init's supervisor thread, which also reaps
 * children, watches xenstore and the power button. The supervisor asks the
 * router to return by raising SIGTERM on the process, after recording why
 * in `wanted` (under `lock`): a shutdown, or a reconfiguration.
 *
 * Shutdown: SIGINT (xl reboot, Ctrl-Alt-Del) stops the router and reboots;
 * SIGTERM, SIGPWR, SIGUSR2 (sent by /sbin/poweroff, which the kernel runs
 * for `xl shutdown`) and the ACPI power button stop it and power off. The
 * router commits its last state as router_main returns; then init syncs,
 * unmounts /state and calls reboot(2). If it has not returned STOP_WAIT_MS
 * after a shutdown request, the supervisor syncs and reboots without it. Any
 * configuration error prints one line naming the key, then powers off: the
 * guest never runs half-configured. If the router returns on its own (an
 * error), the guest powers off.
 *
 * Configuration, in layers (guest/xs.h), each over the one before:
 *  - the kernel command line's gitnet.KEY=VALUE words: part of the domain's
 *    config (xl's `cmdline`), so they survive `xl reboot`, on_reboot and
 *    on_crash, which all make a new domain with a new domid and an empty
 *    xenstore subtree;
 *  - xenstore's data/gitnet/, relative to the domain's home (it follows the
 *    guest across save/restore and migration), watched: the live overlay;
 *  - under both, and only when neither gives an inside: the last good
 *    configuration, saved in /state/gitnet-config (the state disk is
 *    mounted first for it). The console says so in one line naming the file.
 * The configuration is saved there (atomically: see guest_cfg_save) each
 * time the router has started with it: router_main's sd_notify READY=1,
 * which init receives on its own NOTIFY_SOCKET (notify_read).
 *
 * Live xenstore changes (forwards, timeouts, nat-filtering, verbose) are
 * applied by making router_main return and calling it again with the new
 * argv; it resumes from its state repository. A SIGTERM from outside that
 * coincides with a reconfiguration is taken as part of it (one signal).
 *
 * NICs and disk by identity: inside and outside may name their NIC by MAC
 * (mac:XX:..) or by Xen vif index (vif:N, matched against sysfs
 * device/nodename "device/vif/N") instead of a kernel name, which depends on
 * probe order; nics_up resolves them to kernel names (ifnames) before the
 * router's argv is built. A state-device named explicitly must be there:
 * if it is missing the boot stops (auto may find none and run without
 * history, as it says on the console).
 *
 * Under QEMU, a xenstore may come over a virtio-serial port instead
 * (GITNET_XS_PORT, see xenstore_port_find), which is how the live path is
 * tested without a hypervisor.
 *
 * Host-side modes for tests (not PID 1): --xenstore-dump and --cmdline-dump
 * print the router's argv, one word per line, or the error; --xenstore-watch
 * prints it, then one line per change until SIGTERM. The xenstore modes take
 * the layers as the guest does: --cmdline WORDS under xenstore, and --saved
 * FILE as /state/gitnet-config (read when no layer gives an inside, written
 * once the argv checks, as the guest writes it once the router started).
 * The host modes resolve mac: and vif: NICs against $GITNET_SYSFS (a
 * test's stand-in tree), else /sys.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "guest/xs.h"
#include "src/router.h"

/* Only the router's argv[0] now: there is no such file in the image. */
#define ROUTER_BIN	"/bin/gitnet-router"
#define MKE2FS_BIN	"/sbin/mke2fs"
#define BOOT_ONLY	"/etc/boot-only.list"
#define STATE_MNT	"/state"
#define STATE_REPO	"/state/gitnet.git"
#define CONTROL_PATH	"/run/gitnet-router.sock"
#define SAVED_CONFIG	"/state/gitnet-config"
#define NOTIFY_NAME	"@gitnet-init/notify"	/* abstract: no file in /run */
#define STOP_WAIT_MS	15000

/*
 * What the supervisor asks of the main thread, under lock. A shutdown
 * (WANT_POWEROFF, WANT_REBOOT) overrides a reconfiguration; next_argv holds
 * the argv of a pending WANT_RECONF. running: the main thread is in (or
 * about to enter) router_main; stop_sent: a SIGTERM was raised for this run
 * (at most one per run, so none is left over to stop the next). run_cfg is
 * the configuration the current run was started with (next_cfg goes with
 * next_argv); run_seq counts the runs that have ended, so a READY=1 read
 * during one run is never taken for the next's (notify_read).
 */
enum want { WANT_NONE, WANT_RECONF, WANT_REBOOT, WANT_POWEROFF };

static pthread_mutex_t	lock = PTHREAD_MUTEX_INITIALIZER;
static enum want	wanted;
static bool		running, stop_sent, finishing;
static uint64_t		stop_asked_ms;
static struct guest_argv next_argv;
static struct guest_cfg	next_cfg, run_cfg;
static unsigned		run_seq;
static int		notify_fd = -1;	/* READY=1 from router_main */
static uint64_t		first_run_ms;	/* when router_main was first called */

static struct guest_cfg	cur_cfg;	/* the supervisor's once it runs */
static struct guest_argv cur_argv;	/* the main thread's */
static struct guest_ifnames ifnames;	/* set by nics_up, then read only */
static char	state_dir[256] = "none";
/*
 * The layers (see the file comment): what lies under xenstore (base_cfg:
 * the saved file if it was needed, then the command line) is fixed at boot;
 * xenstore is read again on every change and laid over it.
 */
static struct guest_cfg	cmd_cfg, xs_cfg, saved_cfg, base_cfg;
static const char	*saved_path;	/* NULL: no file (host modes without --saved) */
#define POWER_MAX	4
static int	power_fd[POWER_MAX];	/* /dev/input/event* with KEY_POWER */
static int	npower;

static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "[%5ld.%03ld] gitnet-init: ", (long)ts.tv_sec,
	    ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int	read_file(const char *, char *, size_t);
static void	memory_say(const char *);

/* The end of every path: flush, unmount, reboot(2). Never returns. */
static void __attribute__((noreturn))
finish(int how)
{
	pthread_mutex_lock(&lock);
	finishing = true;
	pthread_mutex_unlock(&lock);
	memory_say("at the end");
	sync();
	if (umount2(STATE_MNT, 0) != 0 && errno != EINVAL && errno != ENOENT)
		say("umount %s: %s (synced anyway)", STATE_MNT, strerror(errno));
	sync();
	say("%s", how == RB_AUTOBOOT ? "rebooting" : "powering off");
	reboot(how);
	/* Only reached when not PID 1 in a VM that refuses; do not panic. */
	for (;;)
		pause();
}

/*
 * Copy a guest_argv: its argv points into its own buf, so the pointers are
 * moved to the copy's buf.
 */
static void
argv_copy(struct guest_argv *dst, const struct guest_argv *src)
{
	memcpy(dst, src, sizeof(*dst));
	for (int i = 0; i < src->argc; i++)
		dst->argv[i] = dst->buf + (src->argv[i] - src->buf);
	dst->argv[src->argc] = NULL;
}

/*
 * Supervisor side: record w (a shutdown overrides a reconfiguration) and
 * make a running router_main return. Called with lock held.
 */
static void
request_locked(enum want w)
{
	if (w > wanted)
		wanted = w;
	if (w != WANT_RECONF && stop_asked_ms == 0)
		stop_asked_ms = now_ms();
	if (running && !stop_sent) {
		stop_sent = true;
		kill(getpid(), SIGTERM);
	}
}

static void
request(enum want w)
{
	pthread_mutex_lock(&lock);
	request_locked(w);
	pthread_mutex_unlock(&lock);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gitnet-init: fatal: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() != 1)
		exit(2);
	finish(RB_POWER_OFF);
}

static void
mount1(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, MS_NOSUID, NULL) != 0 && errno != EBUSY)
		say("mount %s on %s: %s", type, dir, strerror(errno));
}

/* /lib/modules/load.list: one .ko path per line, dependencies first. */
static void
modules_load(void)
{
	FILE *f = fopen("/lib/modules/load.list", "r");
	char line[256];
	unsigned n = 0;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		int fd;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if ((fd = open(line, O_RDONLY | O_CLOEXEC)) < 0) {
			say("module %s: %s", line, strerror(errno));
			continue;
		}
		/* ENODEV: a Xen driver outside Xen, or virtio on Xen: expected. */
		if (syscall(SYS_finit_module, fd, "", 0) == 0 || errno == EEXIST)
			n++;
		else if (errno != ENODEV)
			say("module %s: %s", line, strerror(errno));
		close(fd);
		/* The initramfs is RAM: a module's file is dead weight once
		 * loaded (or refused: there is no modprobe to retry it). */
		unlink(line);
	}
	fclose(f);
	unlink("/lib/modules/load.list");
	say("modules loaded: %u", n);
}

/*
 * BOOT_ONLY lists (guest/mkimage) the files needed only until the state
 * disk is mounted: mke2fs, which formats an empty disk, and its shared
 * libraries. The initramfs stays in RAM for the guest's life, so they go
 * (issue 16: 3 MB of a 64 MB guest) -- once the router is up (its READY=1;
 * at once when there is no state disk, so no READY=1 to wait for). Freed
 * before the router started, their pages, just run by mke2fs, were the
 * first the kernel handed the router's tables, and under QEMU TCG every
 * first write to a page that held translated code costs an invalidation:
 * the pipeline took 62 ms to set up on a first boot instead of 4.
 */
static void
boot_only_free(void)
{
	FILE *f = fopen(BOOT_ONLY, "r");
	char line[256];
	unsigned n = 0;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '/' && unlink(line) == 0)
			n++;
	}
	fclose(f);
	unlink(BOOT_ONLY);
	say("boot-only files removed from the initramfs: %u", n);
}

/* Kilobytes in a "Key:   N kB" line of a /proc file, or 0. */
static double
proc_mb(const char *path, const char *key)
{
	char buf[4096], *p;

	if (read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	for (p = buf; (p = strstr(p, key)) != NULL; p++)
		if ((p == buf || p[-1] == '\n') && p[strlen(key)] == ':')
			return strtod(p + strlen(key) + 1, NULL) / 1024;
	return 0;
}

/*
 * One console line on memory: the router's (it runs in PID 1) resident set
 * now and at its peak, and the guest's; so a small guest's figures can be
 * read from outside (tests/guest/test_boot_64m.sh).
 */
static void
memory_say(const char *when)
{
	say("memory: %s: rss_mb=%.1f peak_rss_mb=%.1f mem_total_mb=%.1f "
	    "mem_available_mb=%.1f initramfs_and_tmpfs_mb=%.1f", when,
	    proc_mb("/proc/self/status", "VmRSS"), proc_mb("/proc/self/status", "VmHWM"),
	    proc_mb("/proc/meminfo", "MemTotal"), proc_mb("/proc/meminfo", "MemAvailable"),
	    proc_mb("/proc/meminfo", "Shmem"));
}

static int
read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static bool
exists(const char *fmt, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), fmt, name);
	return access(path, F_OK) == 0;
}

/* Bring dev up (no address: the router owns its addresses). */
static int
link_up(const char *dev)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rc;
}

/*
 * Find the NIC n selects (mac: or vif:) under sysfs/class/net: its kernel
 * name goes to dev. seen gets the NICs there, for messages ("eth0
 * 52:54:00:00:00:10, eth1 00:16:3e:00:00:01 device/vif/1"). Returns 0, -1
 * when none matches (yet), -2 when more than one does.
 */
static int
nic_find(char *dev, size_t len, const struct guest_nic *n, const char *sysfs,
    char *seen, size_t seenlen)
{
	char dir[256], path[600], mac[32], node[64], want[32];
	const uint8_t *m = n->mac;
	struct dirent *e;
	size_t used = 0;
	int found = 0;
	DIR *d;

	if (n->by == GUEST_NIC_MAC)
		snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x", m[0],
		    m[1], m[2], m[3], m[4], m[5]);
	else
		snprintf(want, sizeof(want), "device/vif/%u", n->vif);
	snprintf(dir, sizeof(dir), "%s/class/net", sysfs);
	snprintf(seen, seenlen, "none");
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int k;

		if (e->d_name[0] == '.' || strcmp(e->d_name, "lo") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/address", dir, e->d_name);
		if (read_file(path, mac, sizeof(mac)) < 0)
			mac[0] = '\0';
		mac[strcspn(mac, "\n")] = '\0';
		/* xen-netfront's device is the xenbus node device/vif/<devid>. */
		snprintf(path, sizeof(path), "%s/%s/device/nodename", dir, e->d_name);
		if (read_file(path, node, sizeof(node)) < 0)
			node[0] = '\0';
		node[strcspn(node, "\n")] = '\0';
		if (used < seenlen && (k = snprintf(seen + used, seenlen - used,
		    "%s%s %s%s%s", used > 0 ? ", " : "", e->d_name, mac,
		    node[0] != '\0' ? " " : "", node)) > 0)
			used += (size_t)k;
		/* Kernel names are shorter than IFNAMSIZ (16): len holds them. */
		if (strcasecmp(n->by == GUEST_NIC_MAC ? mac : node, want) == 0 &&
		    found++ == 0 && strlen(e->d_name) < len)
			memcpy(dev, e->d_name, strlen(e->d_name) + 1);
	}
	closedir(d);
	return found == 0 ? -1 : found > 1 ? -2 : 0;
}

/*
 * Resolve c's inside and outside NICs to kernel names in ifn, from sysfs
 * (/sys, or a test's tree), waiting up to wait_ms for a mac: or vif: NIC
 * to appear (NICs probe asynchronously). A DEV is taken as named: whether
 * it is there is nics_up's business. Returns 0, or -1 with one line naming
 * the key in err. c has been through guest_cfg_argv: its values parse.
 */
static int
nics_resolve(struct guest_ifnames *ifn, const struct guest_cfg *c,
    const char *sysfs, unsigned wait_ms, char *err, size_t errlen)
{
	static const char *const keys[] = { "inside", "outside" };

	memset(ifn, 0, sizeof(*ifn));
	for (int i = 0; i < 2; i++) {
		char *name = i == 0 ? ifn->inside : ifn->outside;
		const char *val = guest_cfg_get(c, keys[i]);
		char why[256], sel[48], seen[512];
		uint64_t t0 = now_ms();
		struct guest_nic n;
		int rc;

		if (val == NULL || guest_nic_parse(&n, val, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s%s: %s", c->source, keys[i],
			    val == NULL ? "missing" : why);
			return -1;
		}
		if (n.by == GUEST_NIC_DEV) {
			snprintf(name, sizeof(ifn->inside), "%s", n.dev);
			continue;
		}
		while ((rc = nic_find(name, sizeof(ifn->inside), &n, sysfs, seen,
		    sizeof(seen))) == -1 && now_ms() - t0 < wait_ms)
			sleep_ms(20);
		guest_nic_str(&n, sel, sizeof(sel));
		if (rc == -1) {
			snprintf(err, errlen, "%s%s: no NIC with %s (NICs: %s)",
			    c->source, keys[i], sel, seen);
			return -1;
		}
		if (rc == -2) {
			snprintf(err, errlen, "%s%s: %s: more than one NIC matches (%s)",
			    c->source, keys[i], sel, seen);
			return -1;
		}
	}
	return 0;
}

/*
 * Find the NICs the configuration names (by name, MAC or vif index: up to
 * 10 s for each to appear) and bring them up. Sets ifnames.
 */
static void
nics_up(const struct guest_cfg *c)
{
	const char *keys[] = { "inside", "outside" };
	char err[1024];

	link_up("lo");
	if (nics_resolve(&ifnames, c, "/sys", 10000, err, sizeof(err)) < 0)
		fatal("%s", err);
	for (int i = 0; i < 2; i++) {
		const char *dev = i == 0 ? ifnames.inside : ifnames.outside;
		char why[256], sel[48] = "";
		uint64_t t0 = now_ms();
		struct guest_nic n;

		if (guest_nic_parse(&n, guest_cfg_get(c, keys[i]), why,
		    sizeof(why)) == 0 && n.by != GUEST_NIC_DEV)
			guest_nic_str(&n, sel, sizeof(sel));
		while (!exists("/sys/class/net/%s", dev) && now_ms() - t0 < 10000)
			sleep_ms(20);
		if (link_up(dev) != 0)
			fatal("%s%s: device %s: %s (is it attached to the guest?)",
			    c->source, keys[i], dev, strerror(errno));
		say("link %s up (%s%s%s)", dev, keys[i], sel[0] != '\0' ? ", " : "",
		    sel);
	}
}

/*
 * Whether dev reads as zeros where anything that owns a disk leaves its
 * mark: only such a disk may be formatted. Every partition table,
 * filesystem, RAID or LVM member and LUKS header that blkid knows keeps its
 * signature in the first or the last MiB (GPT's backup and md 0.90/1.0
 * superblocks at the end, btrfs at 64 KiB): those are read whole. Data
 * written straight to the device elsewhere is looked for at DISK_PEEKS
 * points spread over the disk, 4 KiB each. Under QEMU TCG a read costs
 * about 4 ms a request whatever its size: reading the whole of a 64 MiB
 * disk took 0.5 s of the first boot, and grows with the disk; this is a
 * fixed two dozen requests.
 */
#define DISK_PEEKS	16

static int
disk_zeros(int fd, unsigned char *buf, size_t len, off_t at)
{
	if (pread(fd, buf, len, at) != (ssize_t)len)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != 0)
			return 0;
	return 1;
}

static int
disk_is_empty(const char *path)
{
	enum { MIB = 1 << 20, PEEK = 4096 };
	static unsigned char buf[MIB];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size;
	int empty;

	if (fd < 0)
		return -1;
	if ((size = lseek(fd, 0, SEEK_END)) < 0) {
		close(fd);
		return -1;
	}
	if (size <= 2 * MIB) {
		empty = disk_zeros(fd, buf, (size_t)size, 0);
	} else {
		empty = disk_zeros(fd, buf, MIB, 0);
		if (empty == 1)
			empty = disk_zeros(fd, buf, MIB, size - MIB);
		for (unsigned i = 1; i < DISK_PEEKS && empty == 1; i++) {
			off_t at = size / DISK_PEEKS * i / PEEK * PEEK;

			if (at >= MIB && at + PEEK <= size - MIB)
				empty = disk_zeros(fd, buf, PEEK, at);
		}
	}
	close(fd);
	return empty;
}

static int
run_wait(char *const argv[])
{
	pid_t p = fork();
	int st;

	if (p < 0)
		return -1;
	if (p == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A block device's serial (virtio-blk has one; Xen's disks do not), or "". */
static void
disk_serial(const char *dev, char *buf, size_t len)
{
	char path[300];

	snprintf(path, sizeof(path), "/sys/class/block/%s/serial", dev);
	if (read_file(path, buf, len) < 0)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * List the block devices there are into buf, for messages ("vda (serial
 * gitnet-state) xvda", or "none"); with serial non-NULL, also find the one
 * with that serial: its name goes to dev (0), else -1.
 */
static int
disks_list(char *buf, size_t len, const char *serial, char *dev, size_t devlen)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *e;
	size_t used = 0;
	int rc = -1;

	snprintf(buf, len, "none");
	while (d != NULL && (e = readdir(d)) != NULL) {
		char ser[64];
		int k;

		if (e->d_name[0] == '.')
			continue;
		disk_serial(e->d_name, ser, sizeof(ser));
		if (serial != NULL && ser[0] != '\0' && strcmp(ser, serial) == 0 &&
		    rc < 0 && strlen(e->d_name) < devlen) {
			memcpy(dev, e->d_name, strlen(e->d_name) + 1);
			rc = 0;
		}
		if (used < len && (k = snprintf(buf + used, len - used, "%s%s%s%s%s",
		    used > 0 ? " " : "", e->d_name, ser[0] != '\0' ? " (serial " : "",
		    ser, ser[0] != '\0' ? ")" : "")) > 0)
			used += (size_t)k;
	}
	if (d != NULL)
		closedir(d);
	return rc;
}

/*
 * Mount the state disk on /state and point state_dir at the repository in
 * it. An all-zero disk is formatted first (mke2fs); a disk that is neither
 * ext4 nor empty is never touched: that stops the boot. A disk named in
 * state-device (vda, xvda, /dev/xvdb, or serial:ID for a virtio-blk disk,
 * whose name follows PCI order: guest/xs.c checks the form) must appear
 * within 5 s or the boot stops: a router told to keep its history
 * there must not run without it. auto takes vdb, else xvdb, else runs
 * without history and says so.
 */
static void
state_mount(const struct guest_cfg *c)
{
	const char *want = guest_cfg_get(c, "state-device");
	char dev[32], path[64], seen[512];
	uint64_t t0 = now_ms();
	int empty;

	if (want != NULL && strcmp(want, "none") == 0) {
		say("state: none (state-device=none): no history is kept");
		return;
	}
	if (want != NULL && strcmp(want, "auto") == 0)
		want = NULL;
	if (want != NULL && strncmp(want, "/dev/", 5) == 0)
		want += 5;
	for (;;) {
		if (want != NULL && strncmp(want, "serial:", 7) == 0) {
			if (disks_list(seen, sizeof(seen), want + 7, dev, sizeof(dev)) == 0)
				break;
		} else if (want != NULL) {
			snprintf(dev, sizeof(dev), "%s", want);
			if (exists("/sys/class/block/%s", dev))
				break;
		} else if (exists("/sys/class/block/%s", "vdb")) {
			snprintf(dev, sizeof(dev), "vdb");
			break;
		} else if (exists("/sys/class/block/%s", "xvdb")) {
			snprintf(dev, sizeof(dev), "xvdb");
			break;
		}
		if (now_ms() - t0 > 5000) {
			disks_list(seen, sizeof(seen), NULL, NULL, 0);
			if (want == NULL) {
				say("state: no vdb or xvdb disk (block devices: %s): running "
				    "without history (set state-device=DEV or serial:ID to "
				    "use another disk, and to require it)", seen);
				return;
			}
			fatal("%sstate-device: the configured state disk %s is missing "
			    "(block devices: %s)", c->source, want, seen);
		}
		sleep_ms(20);
	}
	snprintf(path, sizeof(path), "/dev/%s", dev);
	mkdir(STATE_MNT, 0755);
	if (mount(path, STATE_MNT, "ext4", MS_NOATIME, NULL) != 0) {
		int why = errno;

		if ((empty = disk_is_empty(path)) != 1)
			fatal("state: %s: cannot mount as ext4 (%s) and it is not empty: "
			    "not formatting it", path, strerror(why));
		say("state: %s is empty: formatting it (ext4)", path);
		/*
		 * The disk was just found blank, so nothing is zeroed or
		 * discarded again: no stale block can pass for a journal
		 * record (lazy_journal_init), the inode tables are left to the
		 * kernel's lazy init thread (lazy_itable_init), and a discard
		 * of the whole device (mke2fs's default; slow on some thin
		 * backends) frees nothing.
		 */
		if (run_wait((char *const []){ (char *)MKE2FS_BIN, (char *)"-q",
		    (char *)"-t", (char *)"ext4", (char *)"-L", (char *)"gitnet-state",
		    (char *)"-E", (char *)"lazy_itable_init=1,lazy_journal_init=1,nodiscard",
		    path, NULL }) != 0)
			fatal("state: mke2fs %s failed", path);
		if (mount(path, STATE_MNT, "ext4", MS_NOATIME, NULL) != 0)
			fatal("state: %s: cannot mount after formatting: %s", path,
			    strerror(errno));
	}
	snprintf(state_dir, sizeof(state_dir), "%s", STATE_REPO);
	say("state: %s mounted on %s; repository %s%s%s%s", path, STATE_MNT,
	    state_dir, want != NULL ? " (state-device=" : "", want != NULL ? want : "",
	    want != NULL ? ")" : "");
}

/*
 * Open the input devices that can report KEY_POWER: the ACPI power button,
 * and keyboards (whose power key means the same).
 */
static void
power_button_open(void)
{
	DIR *d = opendir("/dev/input");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && npower < POWER_MAX) {
		unsigned long bits[KEY_MAX / (8 * sizeof(long)) + 1] = { 0 };
		char path[300];
		int fd;

		if (strncmp(e->d_name, "event", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
		if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue;
		if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(bits)), bits) >= 0 &&
		    (bits[KEY_POWER / (8 * sizeof(long))] >>
		    (KEY_POWER % (8 * sizeof(long))) & 1)) {
			power_fd[npower++] = fd;
			say("power key: %s", path);
		} else
			close(fd);
	}
	closedir(d);
	if (npower == 0)
		say("no power button (no input device reports KEY_POWER)");
}

static bool
power_button_pressed(int fd)
{
	struct input_event ev;

	while (read(fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
		if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1)
			return true;
	return false;
}

static void
print_argv(const struct guest_argv *a)
{
	for (int i = 0; i < a->argc; i++)
		printf("%s\n", a->argv[i]);
	fflush(stdout);
}

/*
 * cur_cfg from the layers: base_cfg (the saved file, when use_saved, under
 * the command line), then xs_cfg over it. The label of a lone layer names
 * it in messages ("kernel command line gitnet.inside: missing"); several
 * are named by the key alone ("gitnet.inside"), each key keeping its own.
 */
static void
cfg_compose(bool use_saved, unsigned nlayers, const char *lone)
{
	char err[512];

	guest_cfg_init(&base_cfg, nlayers == 1 ? lone : "gitnet.");
	if ((use_saved && guest_cfg_overlay(&base_cfg, &saved_cfg, err,
	    sizeof(err)) < 0) ||
	    guest_cfg_overlay(&base_cfg, &cmd_cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
	cur_cfg = base_cfg;
	if (guest_cfg_overlay(&cur_cfg, &xs_cfg, err, sizeof(err)) < 0)
		fatal("%s", err);
}

/*
 * Read the boot-time layers: cmdline (NULL: not consulted) and xenstore (h
 * NULL: none) into cur_cfg. Returns whether they give an inside; if not,
 * the caller makes saved_path readable and calls cfg_fallback.
 */
static bool
cfg_read(const char *cmdline, struct xs_handle *h, const char *base)
{
	char err[512];
	unsigned n = 0;
	const char *lone = "";

	guest_cfg_init(&cmd_cfg, "kernel command line gitnet.");
	guest_cfg_init(&xs_cfg, "xenstore data/gitnet/");
	if (cmdline != NULL) {
		if (guest_cfg_from_cmdline(&cmd_cfg, cmdline, err, sizeof(err)) < 0)
			fatal("%s", err);
		n++;
		lone = cmd_cfg.source;
	}
	if (h != NULL) {
		if (guest_cfg_from_xenstore(&xs_cfg, h, base, err, sizeof(err)) < 0)
			fatal("%s", err);
		n++;
		lone = xs_cfg.source;
	}
	cfg_compose(false, n, lone);
	return guest_cfg_get(&cur_cfg, "inside") != NULL;
}

/*
 * No layer gave an inside: take the last good configuration from
 * saved_path, under the others (their keys still win), saying so on the
 * console. Without one, cur_cfg stays as it is and the argv check names
 * the missing key.
 */
static void
cfg_fallback(bool cmdline, bool xs)
{
	char err[512], where[128];
	int rc;

	snprintf(where, sizeof(where), "%s%s%s", cmdline ? "the kernel command line" : "",
	    cmdline && xs ? " or " : "", xs ? "xenstore data/gitnet" : "");
	if (saved_path == NULL)
		return;
	if ((rc = guest_cfg_load(&saved_cfg, saved_path, err, sizeof(err))) < 0)
		fatal("%s", err);
	if (rc == 0) {
		say("config: no inside from %s, and no saved configuration in %s",
		    where, saved_path);
		cfg_compose(false, 2, "");
		return;
	}
	say("config: no inside from %s: using the last good configuration, "
	    "saved in %s", where, saved_path);
	cfg_compose(true, 2, "");
}

/*
 * Save c in saved_path unless it holds c already. Called once the router
 * has started with c (or, in the host modes, once c checks).
 */
static void
cfg_save(const struct guest_cfg *c)
{
	char err[512];
	int rc;

	if (saved_path == NULL)
		return;
	if ((rc = guest_cfg_save(c, saved_path, err, sizeof(err))) < 0)
		say("config: not saved: %s", err);
	else if (rc == 1)
		say("config: saved in %s (%u keys): the fallback for a boot without "
		    "an inside", saved_path, c->n);
}

/*
 * The socket router_main's sd_notify(3) messages come to: NOTIFY_SOCKET,
 * abstract, datagrams. Only when there is a state disk to save to.
 */
static void
notify_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(NOTIFY_NAME);
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		say("notify: socket: %s (the configuration will not be saved)",
		    strerror(errno));
		return;
	}
	memcpy(sa.sun_path, NOTIFY_NAME, n);
	sa.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0) {
		say("notify: bind %s: %s (the configuration will not be saved)",
		    NOTIFY_NAME, strerror(errno));
		close(fd);
		return;
	}
	setenv("NOTIFY_SOCKET", NOTIFY_NAME, 1);
	notify_fd = fd;
}

/* Read every queued message; whether one was READY=1. */
static bool
notify_drain(void)
{
	char msg[256];
	bool ready = false;
	ssize_t n;

	while (notify_fd >= 0 && (n = recv(notify_fd, msg, sizeof(msg) - 1,
	    MSG_DONTWAIT)) >= 0) {
		msg[n] = '\0';
		/* Newline-separated assignments (sd_notify(3)). */
		for (const char *w = msg; *w != '\0'; w += strcspn(w, "\n"),
		    w += *w == '\n')
			if (strncmp(w, "READY=1", 7) == 0 && (w[7] == '\n' || w[7] == '\0'))
				ready = true;
	}
	return ready;
}

/*
 * Supervisor: the router said READY=1, so it started with run_cfg: save
 * that. run_seq tells whether the run that sent it is still the current one
 * (route() drains what an ended run left queued before the next starts).
 */
static void
notify_read(void)
{
	unsigned seq;

	pthread_mutex_lock(&lock);
	seq = run_seq;
	pthread_mutex_unlock(&lock);
	if (!notify_drain())
		return;
	/* Before the save's fsync: the boot figures time this line (the
	 * router's own lines carry no timestamp). */
	say("router: ready (READY=1)");
	/* Under the lock: finish() cannot unmount /state meanwhile. */
	pthread_mutex_lock(&lock);
	if (seq == run_seq && running && !finishing)
		cfg_save(&run_cfg);
	pthread_mutex_unlock(&lock);
	boot_only_free();
	memory_say("router ready");
}

struct change_ctx {
	unsigned	live, restart;
};

static void
log_change(void *ctx, const char *key, const char *was, const char *now)
{
	struct change_ctx *cc = ctx;
	bool live = guest_key_live(key);

	if (live)
		cc->live++;
	else
		cc->restart++;
	say("xenstore: %s: '%s' -> '%s' (%s)", key, was ? was : "(none)",
	    now ? now : "(none)", live ? "live" :
	    "needs a guest restart: not applied");
}

/* Append c's keys that are live (or not) to dst, keeping their labels. */
static void
cfg_pick(struct guest_cfg *dst, const struct guest_cfg *c, bool live)
{
	for (unsigned i = 0; i < c->n && dst->n < GUEST_MAX_KV; i++)
		if (guest_key_live(c->kv[i].key) == live)
			dst->kv[dst->n++] = c->kv[i];
}

/*
 * Ask the running router to announce its addresses (gratuitous ARP), through
 * its control socket as an operator would, and log its answer.
 */
static void
router_announce_ask(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 2, 0 };
	char reply[128];
	ssize_t n = -1;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", CONTROL_PATH);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    write(fd, "announce\n", 9) == 9)
			n = read(fd, reply, sizeof(reply) - 1);
		close(fd);
	}
	if (n <= 0) {
		say("announce: no answer from the router's control socket %s", CONTROL_PATH);
		return;
	}
	reply[n] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	say("announce: router: %s", reply);
}

/*
 * xenstore's control/shutdown changed. "suspend" is the toolstack's save,
 * migration or checkpoint (the kernel's manage.c clears the key and
 * suspends; after the resume every watch fires again): the neighbours may
 * now reach the router somewhere else, so it announces its addresses at
 * once, and again when the key is seen cleared afterwards (the resume).
 * poweroff and reboot reach init as the kernel turns them into signals.
 */
static void
control_shutdown(struct xs_handle *h)
{
	static bool suspended;
	unsigned len = 0;
	char *v = xs_read(h, XBT_NULL, "control/shutdown", &len);
	bool suspend = v != NULL && strcmp(v, "suspend") == 0, empty = v == NULL || len == 0;

	free(v);
	if (suspend && !suspended) {
		say("xenstore: control/shutdown: suspend: announcing the router's "
		    "addresses (again once resumed)");
		suspended = true;
		router_announce_ask();
	} else if (empty && suspended) {
		say("xenstore: control/shutdown cleared after a suspend: resumed, "
		    "announcing again");
		suspended = false;
		router_announce_ask();
	}
}

/*
 * A watch fired: read the subtree again, lay it over base_cfg, log what
 * changed since the last read (seen_cfg), and apply the live keys by
 * restarting the router on the running configuration with the new live
 * values (run: hand the argv to the main thread and make router_main
 * return; else print it). A result that does not check is logged and not
 * applied: the running router is better than none. Restart-only keys keep
 * their boot-time values in cur_cfg. A key removed from xenstore falls back
 * to the command line's (or the saved) value.
 */
static void
xs_changed(struct xs_handle *h, const char *base, bool run)
{
	static struct guest_cfg seen_cfg, next, applied;
	static bool seen_set;
	struct change_ctx cc = { 0, 0 };
	static struct guest_argv argv;
	char err[512];
	char **ev;

	bool shutdown_key = false;

	while ((ev = xs_check_watch(h)) != NULL) {
		shutdown_key |= strcmp(ev[XS_WATCH_TOKEN], "shutdown") == 0;
		free(ev);
	}
	if (shutdown_key && run)
		control_shutdown(h);
	if (!seen_set) {
		seen_cfg = cur_cfg;
		seen_set = true;
	}
	if (guest_cfg_from_xenstore(&xs_cfg, h, base, err, sizeof(err)) < 0) {
		say("xenstore: change ignored: %s", err);
		return;
	}
	next = base_cfg;
	if (guest_cfg_overlay(&next, &xs_cfg, err, sizeof(err)) < 0) {
		say("xenstore: change ignored: %s", err);
		return;
	}
	if (guest_cfg_diff(&seen_cfg, &next, log_change, &cc) == 0)
		return;
	seen_cfg = next;
	if (cc.live == 0)
		return;
	guest_cfg_init(&applied, cur_cfg.source);
	cfg_pick(&applied, &cur_cfg, false);
	cfg_pick(&applied, &next, true);
	if (guest_cfg_argv(&applied, &ifnames, ROUTER_BIN, state_dir, CONTROL_PATH,
	    &argv, err, sizeof(err)) < 0) {
		say("xenstore: live change rejected, router keeps running as it was: %s",
		    err);
		return;
	}
	if (guest_cfg_diff(&cur_cfg, &applied, NULL, NULL) == 0)
		return;
	cur_cfg = applied;
	if (run) {
		say("xenstore: applying: restarting the router (it resumes from "
		    "its state)");
		pthread_mutex_lock(&lock);
		argv_copy(&next_argv, &argv);
		next_cfg = applied;
		request_locked(WANT_RECONF);
		pthread_mutex_unlock(&lock);
	} else {
		argv_copy(&cur_argv, &argv);
		say("xenstore: applying: router argv now:");
		print_argv(&cur_argv);
		cfg_save(&cur_cfg);
	}
}

/*
 * Host modes: check cur_cfg, resolve its NICs against $GITNET_SYSFS (else
 * /sys) without waiting, and build cur_argv as the guest would.
 */
static int
host_argv(char *err, size_t errlen)
{
	const char *sysfs = getenv("GITNET_SYSFS");

	if (guest_cfg_argv(&cur_cfg, NULL, ROUTER_BIN, "/state/gitnet.git",
	    CONTROL_PATH, &cur_argv, err, errlen) < 0 ||
	    nics_resolve(&ifnames, &cur_cfg, sysfs != NULL ? sysfs : "/sys", 0, err,
	    errlen) < 0)
		return -1;
	return guest_cfg_argv(&cur_cfg, &ifnames, ROUTER_BIN, "/state/gitnet.git",
	    CONTROL_PATH, &cur_argv, err, errlen);
}

/* Host modes for tests: see the file comment. */
static int
host_mode(int argc, char **argv)
{
	const char *cmdline = NULL, *mode = argv[1];
	char base[128], err[512];
	struct xs_handle *h;
	sigset_t set;
	int sfd;

	if (strcmp(mode, "--cmdline-dump") == 0 && argc == 3) {
		guest_cfg_init(&cur_cfg, "kernel command line gitnet.");
		if (guest_cfg_from_cmdline(&cur_cfg, argv[2], err, sizeof(err)) < 0 ||
		    host_argv(err, sizeof(err)) < 0)
			fatal("%s", err);
		print_argv(&cur_argv);
		return 0;
	}
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 < argc && strcmp(argv[i], "--cmdline") == 0)
			cmdline = argv[i + 1];
		else if (i + 1 < argc && strcmp(argv[i], "--saved") == 0)
			saved_path = argv[i + 1];
		else
			mode = "";
	}
	if (strcmp(mode, "--xenstore-dump") != 0 &&
	    strcmp(mode, "--xenstore-watch") != 0) {
		fprintf(stderr, "usage: gitnet-init --cmdline-dump CMDLINE\n"
		    "       gitnet-init --xenstore-dump|--xenstore-watch "
		    "[--cmdline CMDLINE] [--saved FILE]\n"
		    "(as PID 1 it takes no arguments)\n");
		return 2;
	}
	if ((h = guest_xs_open(base, sizeof(base), NULL, 0, err, sizeof(err))) == NULL)
		fatal("%s", err);
	if (!cfg_read(cmdline, h, base))
		cfg_fallback(cmdline != NULL, true);
	if (host_argv(err, sizeof(err)) < 0)
		fatal("%s", err);
	snprintf(state_dir, sizeof(state_dir), "/state/gitnet.git");
	print_argv(&cur_argv);
	cfg_save(&cur_cfg);
	if (strcmp(mode, "--xenstore-dump") == 0)
		return 0;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (!xs_watch(h, base, "gitnet"))
		fatal("xenstore: watch %s: %s", base, strerror(errno));
	printf("watching %s\n", base);
	fflush(stdout);
	for (;;) {
		struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { xs_fileno(h), POLLIN, 0 } };

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents)
			xs_changed(h, base, false);
	}
	xs_close(h);
	return 0;
}

/* /sbin/poweroff and /sbin/reboot: ask PID 1. */
static int
ask_pid1(const char *name)
{
	int sig = strcmp(name, "reboot") == 0 ? SIGINT : SIGUSR2;
	char exe[64];
	ssize_t n = readlink("/proc/1/exe", exe, sizeof(exe) - 1);

	/* Only ever signal our own PID 1: on a host, SIGINT reboots systemd. */
	if (n < 0 || (exe[n] = '\0', strcmp(exe, "/init") != 0)) {
		fprintf(stderr, "%s: PID 1 is not gitnet-init (/init): not signalling it\n",
		    name);
		return 1;
	}
	if (kill(1, sig) != 0) {
		fprintf(stderr, "%s: kill 1: %s\n", name, strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * Under QEMU a xenstore can be offered on a virtio-serial port (the boot test
 * does this, with tests/guest/xenstored_stub.py behind it): the kernel
 * command line's GITNET_XS_PORT=NAME reaches init as an environment variable,
 * and the port's device becomes XENSTORED_PATH, which libxenstore opens as it
 * would /dev/xen/xenbus (same framing).
 */
static void
xenstore_port_find(void)
{
	const char *want = getenv("GITNET_XS_PORT");
	uint64_t t0 = now_ms();

	if (want == NULL)
		return;
	while (now_ms() - t0 < 5000) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[300], name[128], dev[300];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name",
			    e->d_name);
			if (read_file(path, name, sizeof(name)) < 0)
				continue;
			name[strcspn(name, "\n")] = '\0';
			snprintf(dev, sizeof(dev), "/dev/%s", e->d_name);
			if (strcmp(name, want) == 0 && access(dev, F_OK) == 0) {
				setenv("XENSTORED_PATH", dev, 1);
				say("xenstore: on virtio port %s (%s)", want, dev);
				closedir(d);
				return;
			}
		}
		if (d != NULL)
			closedir(d);
		sleep_ms(20);
	}
	say("xenstore: no virtio port named %s", want);
}

/*
 * Without panic=N on the command line a panicked guest would hang for ever
 * instead of reaching on_crash: default to rebooting after 10 s.
 */
static void
panic_default(void)
{
	char v[32];
	int fd;

	if (read_file("/proc/sys/kernel/panic", v, sizeof(v)) < 0 || atoi(v) != 0)
		return;
	if ((fd = open("/proc/sys/kernel/panic", O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, "10", 2) == 2)
			say("no panic= on the command line: a panic reboots after 10 s");
		close(fd);
	}
}

static void
console_open(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* What the supervisor thread watches; set before it starts. */
struct watch {
	struct xs_handle	*h;		/* NULL: no xenstore watch */
	char			base[128];
	char			domid[16];
};

/* Reap every child that has ended (mke2fs is waited for by run_wait). */
static void
reap(void)
{
	int st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		;
}

/*
 * Test only: GITNET_TEST_SHUTDOWN=poweroff@S or reboot@S on the kernel
 * command line (the kernel hands such words to init as environment
 * variables) runs /sbin/poweroff or /sbin/reboot S seconds after the router
 * first started, the way the kernel's orderly_poweroff() and
 * orderly_reboot() do (call_usermodehelper: a child process, argv { path },
 * a minimal environment) -- what `xl shutdown` leads to on Xen. The QEMU
 * boot test drives that path end to end with it.
 */
static void
test_shutdown_due(void)
{
	static bool done;
	static char *const env[] = { "HOME=/", "PATH=/sbin:/usr/sbin:/bin:/usr/bin", NULL };
	const char *v = getenv("GITNET_TEST_SHUTDOWN"), *at;
	char path[32];
	uint64_t t0;
	pid_t pid;

	if (done || v == NULL || (at = strchr(v, '@')) == NULL)
		return;
	pthread_mutex_lock(&lock);
	t0 = first_run_ms;
	pthread_mutex_unlock(&lock);
	if (t0 == 0 || now_ms() - t0 < (uint64_t)strtoul(at + 1, NULL, 10) * 1000)
		return;
	done = true;
	if ((size_t)(at - v) == 8 && strncmp(v, "poweroff", 8) == 0)
		snprintf(path, sizeof(path), "/sbin/poweroff");
	else if ((size_t)(at - v) == 6 && strncmp(v, "reboot", 6) == 0)
		snprintf(path, sizeof(path), "/sbin/reboot");
	else {
		say("test: GITNET_TEST_SHUTDOWN=%s: not poweroff@S or reboot@S", v);
		return;
	}
	say("test: running %s as the kernel does (orderly_%s)", path, path + 6);
	if ((pid = fork()) == 0) {
		char *const argv[] = { path, NULL };
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(path, argv, env);
		_exit(127);
	}
	if (pid < 0)
		say("test: fork: %s", strerror(errno));
}

/*
 * The supervisor thread: power-off signals (SIGPWR, SIGUSR2), SIGCHLD, the
 * power button, the xenstore watch and the router's READY=1. It never calls finish() while the
 * router may run, except when a shutdown request has gone unanswered for
 * STOP_WAIT_MS: then it syncs and reboots without the router.
 */
static void *
supervise(void *arg)
{
	struct watch *w = arg;
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGPWR);
	sigaddset(&set, SIGUSR2);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		say("signalfd: %s (power-off signals will not be seen)", strerror(errno));
	for (;;) {
		struct pollfd pfd[3 + POWER_MAX] = {
			{ sfd, POLLIN, 0 },
			{ w->h != NULL ? xs_fileno(w->h) : -1, POLLIN, 0 },
			{ notify_fd, POLLIN, 0 },
		};
		struct signalfd_siginfo si;
		uint64_t asked;
		bool done;
		enum want how;

		for (int i = 0; i < npower; i++)
			pfd[3 + i] = (struct pollfd){ power_fd[i], POLLIN, 0 };
		if (poll(pfd, 3 + (nfds_t)npower, 500) < 0 && errno != EINTR) {
			say("poll: %s", strerror(errno));
			sleep_ms(500);
		}
		for (int i = 0; i < npower; i++)
			if (pfd[3 + i].revents && power_button_pressed(power_fd[i])) {
				say("power button: power-off request");
				request(WANT_POWEROFF);
			}
		test_shutdown_due();
		/* Before xenstore: a READY=1 read now is the running cur_cfg's. */
		if (pfd[2].revents)
			notify_read();
		if (pfd[1].revents)
			xs_changed(w->h, w->base, true);
		while (pfd[0].revents && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				reap();
			else {
				say("signal %d: power-off request", (int)si.ssi_signo);
				request(WANT_POWEROFF);
			}
		}
		pthread_mutex_lock(&lock);
		asked = stop_asked_ms;
		done = finishing;
		how = wanted;
		pthread_mutex_unlock(&lock);
		if (asked != 0 && !done && now_ms() - asked > STOP_WAIT_MS) {
			say("router did not stop in %d ms: going down without it",
			    STOP_WAIT_MS);
			finish(how == WANT_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
		}
	}
	return NULL;
}

/*
 * The main thread from the router's start on: run router_main, and run it
 * again after a reconfiguration; any other return ends in finish().
 */
static void __attribute__((noreturn))
route(void)
{
	for (;;) {
		enum want w;
		uint64_t t0;
		int rc, sig;

		pthread_mutex_lock(&lock);
		w = wanted;
		if (w == WANT_RECONF) {
			argv_copy(&cur_argv, &next_argv);
			run_cfg = next_cfg;
			wanted = WANT_NONE;
		}
		running = w == WANT_NONE || w == WANT_RECONF;
		stop_sent = false;
		pthread_mutex_unlock(&lock);
		if (w == WANT_REBOOT || w == WANT_POWEROFF)
			finish(w == WANT_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
		say("router: running in-process (pid %d)", (int)getpid());
		pthread_mutex_lock(&lock);
		if (first_run_ms == 0)
			first_run_ms = now_ms();
		pthread_mutex_unlock(&lock);
		rc = router_main(cur_argv.argc, cur_argv.argv);
		sig = router_main_stop_signal();
		pthread_mutex_lock(&lock);
		running = false;
		/* A READY=1 still queued is this run's, not the next's. */
		notify_drain();
		run_seq++;
		w = wanted;
		t0 = w == WANT_RECONF ? 0 : stop_asked_ms;
		pthread_mutex_unlock(&lock);
		if (rc != 0 || sig == 0) {
			say("router exited (status %d): powering off", rc);
			finish(RB_POWER_OFF);
		}
		if (t0 != 0)
			say("router stopped (exit 0) on SIG%s, %llu ms after the request",
			    sig == SIGINT ? "INT" : "TERM",
			    (unsigned long long)(now_ms() - t0));
		else
			say("router stopped (exit 0) on SIG%s",
			    sig == SIGINT ? "INT" : "TERM");
		if (w == WANT_RECONF)
			continue;
		if (w == WANT_REBOOT || w == WANT_POWEROFF)
			finish(w == WANT_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
		if (sig == SIGINT) {
			say("SIGINT (Ctrl-Alt-Del, xl reboot)");
			finish(RB_AUTOBOOT);
		}
		say("SIGTERM: power-off request");
		finish(RB_POWER_OFF);
	}
}

int
main(int argc, char **argv)
{
	static char cmdline[4096];
	static struct watch wt;
	char err[512];
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	pthread_t tid;
	sigset_t set;

	if (strcmp(name, "poweroff") == 0 || strcmp(name, "reboot") == 0)
		return ask_pid1(name);
	if (getpid() != 1) {
		if (argc >= 2)
			return host_mode(argc, argv);
		fprintf(stderr, "gitnet-init: not PID 1 (host modes: --xenstore-dump, "
		    "--xenstore-watch, --cmdline-dump CMDLINE)\n");
		return 2;
	}

	mount1("devtmpfs", "/dev", "devtmpfs");
	console_open();
	setvbuf(stdout, NULL, _IOLBF, 0);
	mount1("proc", "/proc", "proc");
	mount1("sysfs", "/sys", "sysfs");
	mount1("tmpfs", "/run", "tmpfs");
	mount1("tmpfs", "/tmp", "tmpfs");
	reboot(RB_DISABLE_CAD);		/* Ctrl-Alt-Del (xl reboot) -> SIGINT */
	panic_default();
	/* Before any thread: every thread inherits this mask, so each of these
	 * reaches the one signalfd that reads it (see the file comment). A
	 * request arriving during boot waits, pending, for its reader. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPWR);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	setenv("PATH", "/sbin:/bin", 1);
	setenv("HOME", "/", 1);
	say("started");

	modules_load();
	if (read_file("/proc/cmdline", cmdline, sizeof(cmdline)) < 0)
		cmdline[0] = '\0';

	/*
	 * The layers: the command line, xenstore's data/gitnet over it (watched
	 * whenever there is a xenstore, even empty: it is the live overlay),
	 * and, if neither gives an inside, the configuration saved on the state
	 * disk, which is mounted first for it.
	 */
	xenstore_port_find();
	if (access("/dev/xen/xenbus", F_OK) == 0 || getenv("XENSTORED_PATH") != NULL) {
		if ((wt.h = guest_xs_open(wt.base, sizeof(wt.base), wt.domid,
		    sizeof(wt.domid), err, sizeof(err))) != NULL)
			say("xenstore: domain %s: configuration under data/gitnet "
			    "(for now /local/domain/%s/data/gitnet)", wt.domid, wt.domid);
		else
			say("%s: the kernel command line only", err);
	}
	saved_path = SAVED_CONFIG;
	if (cfg_read(cmdline, wt.h, wt.base)) {
		/* Check everything before touching disks: a bad key costs nothing. */
		if (guest_cfg_argv(&cur_cfg, NULL, ROUTER_BIN, "/state/gitnet.git",
		    CONTROL_PATH, &cur_argv, err, sizeof(err)) < 0)
			fatal("%s", err);
		nics_up(&cur_cfg);
		state_mount(&cur_cfg);
	} else {
		state_mount(&cur_cfg);
		if (strcmp(state_dir, "none") != 0)
			cfg_fallback(true, wt.h != NULL);
		else
			say("config: no inside from the kernel command line%s, and no "
			    "state disk to hold a saved configuration",
			    wt.h != NULL ? " or xenstore data/gitnet" : "");
		if (guest_cfg_argv(&cur_cfg, NULL, ROUTER_BIN, "/state/gitnet.git",
		    CONTROL_PATH, &cur_argv, err, sizeof(err)) < 0)
			fatal("%s", err);
		nics_up(&cur_cfg);
	}
	if (strcmp(state_dir, "none") == 0)
		saved_path = NULL;
	if (guest_cfg_argv(&cur_cfg, &ifnames, ROUTER_BIN, state_dir, CONTROL_PATH,
	    &cur_argv, err, sizeof(err)) < 0)
		fatal("%s", err);
	run_cfg = cur_cfg;
	if (saved_path != NULL)
		notify_open();
	/* Freed on the router's READY=1 (notify_read), or now if none can come
	 * (no state disk, or no socket for it). */
	if (notify_fd < 0)
		boot_only_free();
	if (wt.h != NULL && !xs_watch(wt.h, "control/shutdown", "shutdown"))
		say("xenstore: watch control/shutdown: %s (no announcement after a "
		    "resume)", strerror(errno));
	if (wt.h != NULL && !xs_watch(wt.h, wt.base, "gitnet")) {
		say("xenstore: watch %s: %s (changes will need a restart)", wt.base,
		    strerror(errno));
		xs_close(wt.h);
		wt.h = NULL;
	}
	/* Late: the ACPI button registers its input device after its module
	 * has loaded, asynchronously. */
	power_button_open();
	/* From here cur_cfg belongs to the supervisor (xs_changed). */
	if ((errno = pthread_create(&tid, NULL, supervise, &wt)) != 0)
		fatal("pthread_create: %s", strerror(errno));
	route();
}
