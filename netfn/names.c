/* SPDX-License-Identifier: ISC */
/*
 * Names of drop reasons, event operations, event causes and the IP
 * protocols gitnet translates.
 *
 * Every table is generated from the X-macro list that generates its enum
 * (drop.h, event.h), so a name can never drift from its value. A value
 * outside its enum, which only a corrupt byte or a caller's bug can produce,
 * names itself "?" instead of indexing past a table.
 */
#include <stddef.h>
#include <string.h>

#include "drop.h"
#include "event.h"
#include "wire.h"

static const char *const drop_names[DROP_MAX] = {
#define NF_DROP_NAME(sym, name, text) [DROP_##sym] = name,
	NF_DROP_REASONS(NF_DROP_NAME)
#undef NF_DROP_NAME
};

static const char *const drop_texts[DROP_MAX] = {
#define NF_DROP_TEXT(sym, name, text) [DROP_##sym] = text,
	NF_DROP_REASONS(NF_DROP_TEXT)
#undef NF_DROP_TEXT
};

static const char *const ev_op_names[EV_OP_MAX] = {
#define EV_OP_NAME(sym, name) [EV_##sym] = name,
	EV_OPS(EV_OP_NAME)
#undef EV_OP_NAME
};

static const char *const ev_cause_names[EV_CAUSE_MAX] = {
#define EV_CAUSE_NAME(sym, name) [EV_CAUSE_##sym] = name,
	EV_CAUSES(EV_CAUSE_NAME)
#undef EV_CAUSE_NAME
};

/* The enum's underlying type may be unsigned; compare as unsigned. */
static const char *
name_lookup(const char *const *table, unsigned n, unsigned v)
{
	return v < n && table[v] != NULL ? table[v] : "?";
}

const char *
drop_name(enum drop why)
{
	return name_lookup(drop_names, DROP_MAX, (unsigned)why);
}

const char *
drop_text(enum drop why)
{
	return name_lookup(drop_texts, DROP_MAX, (unsigned)why);
}

const char *
ev_op_name(enum ev_op op)
{
	return name_lookup(ev_op_names, EV_OP_MAX, (unsigned)op);
}

const char *
ev_cause_name(enum ev_cause cause)
{
	return name_lookup(ev_cause_names, EV_CAUSE_MAX, (unsigned)cause);
}

const char *
ip_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP_:	return "tcp";
	case IPPROTO_UDP_:	return "udp";
	case IPPROTO_ICMP_:	return "icmp";
	default:		return NULL;
	}
}

int
ip_proto_parse(uint8_t *proto, const char *s, size_t n)
{
	static const uint8_t protos[] = { IPPROTO_TCP_, IPPROTO_UDP_, IPPROTO_ICMP_ };

	for (size_t i = 0; i < sizeof(protos); i++) {
		const char *name = ip_proto_name(protos[i]);

		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*proto = protos[i];
			return 0;
		}
	}
	return -1;
}
