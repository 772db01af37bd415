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
 * It lives under store/ (the only libgit2 user), but in no store library:
 * only guest/build-init compiles it, into the guest's static /init; the
 * host programs link libgit2 whole. The public stand-ins are checked
 * against libgit2's own prototypes; the internal ones are declared here.
 */
#include <stdbool.h>

#include <git2.h>
#include <git2/sys/stream.h>
#include <git2/sys/transport.h>

int git_transport_ssh_global_init(void);
int git_mbedtls_stream_global_init(void);
int git_mbedtls__set_cert_location(const char *, const char *);
int git_mbedtls_stream_new(git_stream **, const char *, const char *);
int git_mbedtls_stream_wrap(git_stream **, git_stream *, const char *);

/* GIT_OPT_ENABLE_HTTP_EXPECT_CONTINUE's flag (transports/http.c). */
bool git_http__expect_continue;

static const char no_ssh[] =
    "ssh remotes are not built into the gitnet guest (a path or git://)";
static const char no_tls[] = "TLS is not built into the gitnet guest";

static int
absent(int klass, const char *what)
{
	git_error_set_str(klass, what);
	return -1;
}

int
git_smart_subtransport_http(git_smart_subtransport **out,
    git_transport *owner, void *param)
{
	(void)owner;
	(void)param;
	*out = NULL;
	return absent(GIT_ERROR_NET,
	    "http(s) remotes are not built into the gitnet guest (a path or git://)");
}

int
git_smart_subtransport_ssh(git_smart_subtransport **out,
    git_transport *owner, void *param)
{
	(void)owner;
	(void)param;
	*out = NULL;
	return absent(GIT_ERROR_SSH, no_ssh);
}

int
git_transport_ssh_with_paths(git_transport **out,
    git_remote *owner, void *payload)
{
	(void)owner;
	(void)payload;
	*out = NULL;
	return absent(GIT_ERROR_SSH, no_ssh);
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
	return absent(GIT_ERROR_SSL, no_tls);
}

int
git_mbedtls_stream_new(git_stream **out, const char *host,
    const char *port)
{
	(void)host;
	(void)port;
	*out = NULL;
	return absent(GIT_ERROR_SSL, no_tls);
}

int
git_mbedtls_stream_wrap(git_stream **out, git_stream *in,
    const char *host)
{
	(void)in;
	(void)host;
	*out = NULL;
	return absent(GIT_ERROR_SSL, no_tls);
}
