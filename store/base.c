/* SPDX-License-Identifier: ISC */
/*
 * The bottom of store/, below the object layer: the thread's error message,
 * the growable buffer, object ids as text, and git's order of tree entry
 * names. Everything else in store/ builds on these.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/wire.h"

#include "objects.h"

static __thread char errbuf[512];

const char *
store_strerror(void)
{
	return errbuf[0] ? errbuf : "no error";
}

static int
verr(int code, bool with_git, const char *fmt, va_list ap)
{
	const git_error *ge = with_git ? git_error_last() : NULL;
	int n;

	n = vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	if (ge != NULL && ge->message != NULL && n >= 0 && (size_t)n < sizeof(errbuf))
		snprintf(errbuf + n, sizeof(errbuf) - (size_t)n, ": %s", ge->message);
	return code;
}

int
store_err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(code, false, fmt, ap);
	va_end(ap);
	return code;
}

int
store_gerr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(code, true, fmt, ap);
	va_end(ap);
	return code;
}

static bool
sbuf_grow(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
store_sbuf_reserve(struct sbuf *b, size_t more)
{
	(void)sbuf_grow(b, more);
}

void
store_sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sbuf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
store_sbuf_puts(struct sbuf *b, const char *s)
{
	store_sbuf_add(b, s, strlen(s));
}

void
store_sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
store_sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

bool
store_oid_equal(const struct store_oid *a, const struct store_oid *b)
{
	return memcmp(a->id, b->id, STORE_OID_RAWSZ) == 0;
}

bool
store_oid_is_zero(const struct store_oid *a)
{
	static const struct store_oid zero;

	return store_oid_equal(a, &zero);
}

char *
store_oid_fmt(char buf[STORE_OID_HEXSZ + 1], const struct store_oid *id)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < STORE_OID_RAWSZ; i++) {
		buf[2 * i] = hex[id->id[i] >> 4];
		buf[2 * i + 1] = hex[id->id[i] & 0xf];
	}
	buf[STORE_OID_HEXSZ] = '\0';
	return buf;
}

int
store_oid_parse(struct store_oid *out, const char *hex)
{
	if (strlen(hex) != STORE_OID_HEXSZ)
		return store_err(STORE_EINVAL, "store: '%s' is not a 40-digit object id", hex);
	for (size_t i = 0; i < STORE_OID_RAWSZ; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return store_err(STORE_EINVAL, "store: '%s' is not a 40-digit object id", hex);
		out->id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
store_name_cmp(const char *a, size_t al, bool at, const char *b, size_t bl, bool bt)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(a, b, n);
	unsigned ca, cb;

	if (c != 0)
		return c;
	ca = al > n ? (unsigned char)a[n] : at ? '/' : 0;
	cb = bl > n ? (unsigned char)b[n] : bt ? '/' : 0;
	return (int)ca - (int)cb;
}

int
store_oid_qcmp(const void *a, const void *b)
{
	return memcmp(a, b, STORE_OID_RAWSZ);
}

bool
store_oid_table_find(const uint8_t *ids, uint32_t lo, uint32_t hi, const uint8_t *id,
    uint32_t *pos)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ids + (size_t)mid * STORE_OID_RAWSZ, id, STORE_OID_RAWSZ);

		if (c == 0) {
			if (pos != NULL)
				*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
