/* SPDX-License-Identifier: ISC */
/*
 * What the guest's /init, which links libgit2 statically (guest/build-init),
 * leaves out of it (issue 16):
 * the ssh and http(s) transports and TLS, with everything only they pull in
 * (libssh2 and OpenSSL's libcrypto, mbedTLS's TLS and X.509, http-parser,
 * NTLM, and GSS-API, of which Kerberos ships no static archive at all).
 *
 * Why the guest can go without them: the router pushes and fetches over a
 * path, file://, git:// or ssh (store/remote.c); http(s) it never offers
 * (no credentials in the config). In the guest, ssh cannot work either: it
 * authenticates with ~/.ssh keys and checks ~/.ssh/known_hosts, and the
 * guest's HOME is / in an initramfs that has neither. What is left, a path
 * or git:// (git daemon --enable=receive-pack in dom0 or a peer), needs no
 * TLS. A guest configured with an ssh:// or https:// remote gets one clear
 * error from each push ("... not built into the gitnet guest"), the same
 * path as an unreachable remote; the router goes on.
 *
 * How: a static link takes an archive member only for a symbol nothing else
 * defines. These definitions come first, so Debian's libgit2.a members that
 * define them (transports/ssh.c, transports/http.c and the mbedTLS stream)
 * are never taken, nor anything below them. The symbols are libgit2 1.5's:
 * two public (git2/sys/transport.h), the others internal to that release
 * (libgit2.c's init table and option setters, streams/tls.c). Should a
 * libgit2 upgrade rename one, the original member is linked again and the
 * link fails on a duplicate definition: guest/build-init then says so.
 * <git2.h> is not included (store/ is the only libgit2 user, which
 * tests/layers-check.sh checks): the handles are opaque pointers here, which
 * is all the ABI sees.
 */
#include <stdbool.h>

struct git_smart_subtransport;
struct git_transport;
struct git_remote;
struct git_stream;

int git_error_set_str(int, const char *);	/* git2/errors.h */

#define GIT_ERROR_NET	12	/* git2/errors.h git_error_t */
#define GIT_ERROR_SSL	16
#define GIT_ERROR_SSH	23

int git_smart_subtransport_http(struct git_smart_subtransport **,
    struct git_transport *, void *);
int git_smart_subtransport_ssh(struct git_smart_subtransport **,
    struct git_transport *, void *);
int git_transport_ssh_with_paths(struct git_transport **, struct git_remote *,
    void *);
int git_transport_ssh_global_init(void);
int git_mbedtls_stream_global_init(void);
int git_mbedtls__set_cert_location(const char *, const char *);
int git_mbedtls_stream_new(struct git_stream **, const char *, const char *);
int git_mbedtls_stream_wrap(struct git_stream **, struct git_stream *,
    const char *);

/* GIT_OPT_ENABLE_HTTP_EXPECT_CONTINUE's flag (transports/http.c). */
bool git_http__expect_continue;

static int
absent(int klass, const char *what)
{
	git_error_set_str(klass, what);
	return -1;
}

int
git_smart_subtransport_http(struct git_smart_subtransport **out,
    struct git_transport *owner, void *param)
{
	(void)owner;
	(void)param;
	*out = 0;
	return absent(GIT_ERROR_NET,
	    "http(s) remotes are not built into the gitnet guest (a path or git://)");
}

int
git_smart_subtransport_ssh(struct git_smart_subtransport **out,
    struct git_transport *owner, void *param)
{
	(void)owner;
	(void)param;
	*out = 0;
	return absent(GIT_ERROR_SSH,
	    "ssh remotes are not built into the gitnet guest (a path or git://)");
}

int
git_transport_ssh_with_paths(struct git_transport **out,
    struct git_remote *owner, void *payload)
{
	(void)owner;
	(void)payload;
	*out = 0;
	return absent(GIT_ERROR_SSH,
	    "ssh remotes are not built into the gitnet guest (a path or git://)");
}

/* libgit2's init table calls these once (git_libgit2_init): nothing to set up. */
int
git_transport_ssh_global_init(void)
{
	return 0;
}

int
git_mbedtls_stream_global_init(void)
{
	return 0;
}

int
git_mbedtls__set_cert_location(const char *file, const char *path)
{
	(void)file;
	(void)path;
	return absent(GIT_ERROR_SSL, "TLS is not built into the gitnet guest");
}

int
git_mbedtls_stream_new(struct git_stream **out, const char *host,
    const char *port)
{
	(void)host;
	(void)port;
	*out = 0;
	return absent(GIT_ERROR_SSL, "TLS is not built into the gitnet guest");
}

int
git_mbedtls_stream_wrap(struct git_stream **out, struct git_stream *in,
    const char *host)
{
	(void)in;
	(void)host;
	*out = 0;
	return absent(GIT_ERROR_SSL, "TLS is not built into the gitnet guest");
}
