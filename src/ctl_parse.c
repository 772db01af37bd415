/* SPDX-License-Identifier: ISC */
/*
 * The control protocol's line parser (contract in ctl.h). Pure: no I/O, so
 * the fuzz target runs it on its own.
 */
#include <string.h>

#include "ctl.h"

static const char *const ctl_names[CTL_CMD_MAX] = {
#define CTL_CMD_NAME(sym, name) [CTL_##sym] = name,
	CTL_CMDS(CTL_CMD_NAME)
#undef CTL_CMD_NAME
};

static enum ctl_cmd
lookup(struct ctl_line *l)
{
	if (l->len > 0 && l->buf[l->len - 1] == '\r')
		l->buf[--l->len] = '\0';
	if (l->len == 0)
		return CTL_HELP;
	for (int c = CTL_TOO_LONG + 1; c < CTL_CMD_MAX; c++)
		if (strlen(ctl_names[c]) == l->len && memcmp(ctl_names[c], l->buf, l->len) == 0)
			return (enum ctl_cmd)c;
	return CTL_UNKNOWN;
}

enum ctl_cmd
ctl_line_feed(struct ctl_line *l, const uint8_t *p, size_t n, size_t *used)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			*used = i + 1;
			return lookup(l);
		}
		if (l->len == CTL_LINE_MAX) {
			*used = i;
			return CTL_TOO_LONG;
		}
		l->buf[l->len++] = (char)p[i];
		l->buf[l->len] = '\0';
	}
	*used = n;
	return CTL_NONE;
}

enum ctl_cmd
ctl_line_end(struct ctl_line *l)
{
	return lookup(l);
}

const char *
ctl_line_text(const struct ctl_line *l)
{
	static char out[CTL_LINE_MAX + 1];
	size_t i;

	/* A NUL or control byte must not cut or garble the message. */
	for (i = 0; i < l->len; i++)
		out[i] = l->buf[i] >= 0x20 && l->buf[i] < 0x7f ? l->buf[i] : '?';
	out[i] = '\0';
	return out;
}
