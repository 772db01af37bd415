/* SPDX-License-Identifier: ISC */
/*
 * The socket under every remote the store talks to (git://, and the TCP
 * under ssh and http). libgit2 1.5.1's own socket stream is plain
 * blocking BSD sockets, and two of its defaults cost a sync remote most
 * of its time:
 *
 * - Nagle's algorithm on a connection that writes a request in pieces
 *   and then waits for the answer. A push writes its commands, then the
 *   pack's 12-byte header, then its 20-byte trailer; the second and third
 *   wait for the server's ACK of the first, which the server delays (up
 *   to 40 ms on Linux). The server does the same to us: receive-pack
 *   sends each side-band packet as a 5-byte header and then its payload
 *   (git's send_sideband()), so the report's body waits for our delayed
 *   ACK of its header. Measured against `git daemon` on loopback: a
 *   one-ref push took 100-105 ms; with TCP_NODELAY 57-65 ms; with
 *   TCP_QUICKACK before each read as well, 47-60 ms.
 * - No connect timeout: a remote host that is down (not refusing) holds
 *   a connect for the kernel's SYN retries, about two minutes, and with
 *   it the sync's pusher or watcher.
 *
 * So the store registers this stream (git_stream_register, standard
 * streams) wherever it initialises libgit2 for a remote: TCP_NODELAY on
 * every connection, TCP_QUICKACK re-armed before every read (Linux clears
 * it as it pleases), a connect bounded by NET_CONNECT_MS per address, and
 * a read or write that waits longer than NET_IDLE_MS fails the transfer
 * instead of hanging it (git receive-pack sends keep-alives every 5 s
 * while it works, upload-pack progress while it packs).
 *
 * Layout: libgit2's ssh transport takes the file descriptor out of the
 * stream by casting it to its own git_socket_stream { parent, host, port,
 * s } (transports/ssh.c, _git_ssh_session_create). struct net_stream
 * keeps that layout so ssh remotes still work over it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/stream.h>

#include "repo.h"

#define NET_CONNECT_MS	3000	/* per address */
#define NET_IDLE_MS	60000	/* a read or write that waits longer fails */

struct net_stream {
	git_stream	parent;
	char		*host;
	char		*port;
	int		s;		/* where libgit2's ssh transport looks */
};

static int
net_fail(const char *what, const struct net_stream *st, int err)
{
	git_error_set(GIT_ERROR_NET, "%s %s:%s: %s", what, st->host, st->port, strerror(err));
	return -1;
}

/* Wait for fd to be ready for events; 0, or an errno. */
static int
net_wait(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return errno;
	return n == 0 ? ETIMEDOUT : 0;
}

/* One address, connected within NET_CONNECT_MS; the socket or -errno. */
static int
net_dial(const struct addrinfo *a)
{
	int s, err = 0, one = 1, fl;
	socklen_t len = sizeof(err);

	s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
	if (s < 0)
		return -errno;
	if (connect(s, a->ai_addr, a->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			err = errno;
		else if ((err = net_wait(s, POLLOUT, NET_CONNECT_MS)) == 0 &&
		    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
	}
	if (err == 0 && ((fl = fcntl(s, F_GETFL)) < 0 || fcntl(s, F_SETFL, fl & ~O_NONBLOCK) < 0))
		err = errno;
	if (err != 0) {
		close(s);
		return -err;
	}
	if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return s;
}

static int
net_connect(git_stream *stream)
{
	struct net_stream *st = (struct net_stream *)stream;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *info = NULL;
	int ret, err = ECONNREFUSED;

	if ((ret = getaddrinfo(st->host, st->port, &hints, &info)) != 0) {
		git_error_set(GIT_ERROR_NET, "failed to resolve address for %s: %s", st->host,
		    gai_strerror(ret));
		return -1;
	}
	for (const struct addrinfo *a = info; a != NULL && st->s < 0; a = a->ai_next)
		if ((ret = net_dial(a)) >= 0)
			st->s = ret;
		else
			err = -ret;
	freeaddrinfo(info);
	return st->s >= 0 ? 0 : net_fail("failed to connect to", st, err);
}

static ssize_t
net_write(git_stream *stream, const char *data, size_t len, int flags)
{
	struct net_stream *st = (struct net_stream *)stream;
	ssize_t n;
	int err;

	for (;;) {
		if ((n = send(st->s, data, len, flags | MSG_NOSIGNAL | MSG_DONTWAIT)) >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return net_fail("error sending data to", st, errno);
		if ((err = net_wait(st->s, POLLOUT, NET_IDLE_MS)) != 0)
			return net_fail("error sending data to", st, err);
	}
}

static ssize_t
net_read(git_stream *stream, void *data, size_t len)
{
	struct net_stream *st = (struct net_stream *)stream;
	int one = 1, err;
	ssize_t n;

	for (;;) {
		if ((n = recv(st->s, data, len, MSG_DONTWAIT)) >= 0) {
			/*
			 * ACK what was read at once (setting it sends a
			 * delayed ACK that is pending): the peer's next
			 * small write may be waiting for it.
			 */
			(void)setsockopt(st->s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return net_fail("error receiving data from", st, errno);
		if ((err = net_wait(st->s, POLLIN, NET_IDLE_MS)) != 0)
			return net_fail("error receiving data from", st, err);
	}
}

static int
net_close(git_stream *stream)
{
	struct net_stream *st = (struct net_stream *)stream;
	int error = st->s >= 0 ? close(st->s) : 0;

	st->s = -1;
	return error;
}

static void
net_free(git_stream *stream)
{
	struct net_stream *st = (struct net_stream *)stream;

	if (st->s >= 0)
		close(st->s);
	free(st->host);
	free(st->port);
	free(st);
}

static int
net_new(git_stream **out, const char *host, const char *port)
{
	struct net_stream *st = calloc(1, sizeof(*st));

	if (st == NULL || (st->host = strdup(host)) == NULL ||
	    (st->port = strdup(port != NULL ? port : "")) == NULL) {
		if (st != NULL)
			free(st->host);
		free(st);
		git_error_set_oom();
		return -1;
	}
	st->s = -1;
	st->parent.version = GIT_STREAM_VERSION;
	st->parent.connect = net_connect;
	st->parent.read = net_read;
	st->parent.write = net_write;
	st->parent.close = net_close;
	st->parent.free = net_free;
	*out = &st->parent;
	return 0;
}

int
net_lib_init(void)
{
	git_stream_registration reg = { .version = GIT_STREAM_VERSION, .init = net_new };

	if (git_libgit2_init() < 0)
		return -1;
	/* Each first init starts with an empty registry: register every time. */
	if (git_stream_register(GIT_STREAM_STANDARD, &reg) < 0) {
		git_libgit2_shutdown();
		return -1;
	}
	return 0;
}
