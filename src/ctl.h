/* SPDX-License-Identifier: ISC */
/*
 * The control protocol's parser, apart from the socket so that it can be
 * fuzzed alone: a client sends one command line, in as many pieces as its
 * writes and the socket make of it; the line ends at '\n' (a '\r' before it
 * is dropped) or at the client's EOF. Nothing is ever read past the line's
 * bound: a line longer than CTL_LINE_MAX is refused, not truncated into some
 * other command.
 */
#ifndef SRC_CTL_H
#define SRC_CTL_H

#include <stddef.h>
#include <stdint.h>

#define CTL_LINE_MAX	128

#define CTL_CMDS(X)			\
	X(STATS,	"stats")	\
	X(ARP,		"arp")		\
	X(NAT,		"nat")		\
	X(NAT_JSON,	"nat-json")	\
	X(ROUTES,	"routes")	\
	X(ANNOUNCE,	"announce")	\
	X(TAKEOVER,	"takeover")	\
	X(HELP,		"help")

enum ctl_cmd {
	CTL_NONE,		/* no complete line yet */
	CTL_UNKNOWN,		/* a line that is not a command */
	CTL_TOO_LONG,		/* no '\n' within CTL_LINE_MAX bytes */
#define CTL_CMD_ENUM(sym, name) CTL_##sym,
	CTL_CMDS(CTL_CMD_ENUM)
#undef CTL_CMD_ENUM
	CTL_CMD_MAX
};

struct ctl_line {
	char	buf[CTL_LINE_MAX + 1];	/* the line so far, NUL-terminated */
	size_t	len;
};

/*
 * Take bytes p[0..n) of the client's stream. Returns CTL_NONE while the
 * line is incomplete (all n bytes taken), else the command the line names
 * (an empty line is CTL_HELP); *used says how many bytes it took (bytes
 * after the line are the client's mistake and ignored by the caller).
 */
enum ctl_cmd ctl_line_feed(struct ctl_line *l, const uint8_t *p, size_t n, size_t *used);

/* The client closed its side: the line so far is the command. */
enum ctl_cmd ctl_line_end(struct ctl_line *l);

/* The line as received, for an error message (printable, bounded). */
const char *ctl_line_text(const struct ctl_line *l);

#endif
