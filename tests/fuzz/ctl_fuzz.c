/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: the control socket's command parser (src/ctl_parse.c),
 * fed the way a socket feeds it: the input is split into reads (each piece
 * prefixed by its length byte, a short last piece takes what is left), and
 * the stream ends with the client's EOF. Differential: the command must be
 * the one a plain reading of the whole stream gives (the bytes before the
 * first '\n', or all of them at EOF; a trailing '\r' dropped; longer than
 * CTL_LINE_MAX: refused), whatever the split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In enum ctl_cmd's order (src/ctl.h), written out: the reference is ours. */
static const char *const names[] = {
	"stats", "arp", "nat", "nat-json", "routes", "announce", "takeover", "help",
};

/* The command the whole stream names, read the simple way. */
static enum ctl_cmd
reference(const uint8_t *s, size_t n)
{
	const uint8_t *nl = memchr(s, '\n', n);
	size_t len = nl != NULL ? (size_t)(nl - s) : n;

	if (len > CTL_LINE_MAX)
		return CTL_TOO_LONG;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len == 0)
		return CTL_HELP;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return (enum ctl_cmd)(CTL_STATS + (int)i);
	return CTL_UNKNOWN;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *stream = malloc(size + 1);
	struct ctl_line l;
	enum ctl_cmd got = CTL_NONE;
	size_t n = 0, p = 0, fed = 0;

	if (stream == NULL)
		abort();
	/* Strip the length bytes: what the client sent, in pieces. */
	while (p < size) {
		size_t len = data[p++];

		if (len > size - p)
			len = size - p;
		memcpy(stream + n, data + p, len);
		p += len;
		n += len;
	}
	memset(&l, 0, sizeof(l));
	p = 0;
	while (p < size && got == CTL_NONE) {
		size_t len = data[p++], used = 0;

		if (len > size - p)
			len = size - p;
		/* Each piece in a buffer of its own size: ASan sees overreads. */
		uint8_t *piece = malloc(len ? len : 1);

		if (piece == NULL)
			abort();
		memcpy(piece, data + p, len);
		got = ctl_line_feed(&l, piece, len, &used);
		free(piece);
		if (used > len || (got == CTL_NONE && used != len))
			abort();
		fed += used;
		p += len;
		if (l.len > CTL_LINE_MAX || l.buf[l.len] != '\0')
			abort();
	}
	if (got == CTL_NONE)
		got = ctl_line_end(&l);
	if (got != reference(stream, n))
		abort();
	if (strlen(ctl_line_text(&l)) != l.len)
		abort();
	(void)fed;
	free(stream);
	return 0;
}
