/* SPDX-License-Identifier: ISC */
/*
 * Layer 4 of store/, heads: the expiry index of the entries at the writer's
 * head (entry key -> expires); the tick reads it instead of walking the
 * tables. Beside it, a binary min-heap of (expires, key) items, one pushed
 * on every set: a tick pops what expired in O(expired log n). Items are
 * never removed from the middle: one whose key is gone or now expires at
 * another time is stale and dropped when it reaches the top. Stale items
 * cost memory, so once they outnumber live entries two to one the heap is
 * dropped and rebuilt from the index (O(n), after at least 2n pushes: O(1)
 * amortized) at the next tick; it is also first built there, so opening a
 * store pays nothing for it. Memory: 16 bytes an item; room for 1.5 items
 * a live entry after a build, at most 3 items (+1024) before the next, in
 * an array at most a quarter larger: 24 bytes an entry typically, 60 at
 * worst (the hash index itself takes 32 to 64).
 */
#include <stdlib.h>
#include <string.h>

#include "heads.h"

#define XHEAP_MIN	1024	/* stale items any heap may hold; a new one's room */

static int
xidx_grow(struct xidx *x)
{
	size_t cap = x->cap ? x->cap * 2 : 1024;
	uint64_t *key = calloc(cap, sizeof(*key)), *exp = calloc(cap, sizeof(*exp));

	if (key == NULL || exp == NULL) {
		free(key);
		free(exp);
		return store_err(-1, "store: out of memory");
	}
	for (size_t i = 0; i < x->cap; i++) {
		size_t s;

		if (x->key[i] == 0)
			continue;
		for (s = store_key_slot(x->key[i], cap); key[s] != 0; s = (s + 1) & (cap - 1))
			;
		key[s] = x->key[i];
		exp[s] = x->exp[i];
	}
	free(x->key);
	free(x->exp);
	x->key = key;
	x->exp = exp;
	x->cap = cap;
	return 0;
}

static void
xheap_drop(struct xidx *x)
{
	free(x->heap);
	x->heap = NULL;
	x->hn = x->hcap = 0;
}

static void
xheap_up(struct xheap_item *h, size_t i)
{
	struct xheap_item it = h[i];

	while (i > 0 && h[(i - 1) / 2].exp > it.exp) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = it;
}

static void
xheap_down(struct xheap_item *h, size_t n, size_t i)
{
	struct xheap_item it = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1].exp < h[c].exp)
			c++;
		if (h[c].exp >= it.exp)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = it;
}

/* Every indexed (expires, key), heapified bottom-up: O(n). */
static int
xheap_build(struct xidx *x)
{
	size_t cap = x->n + x->n / 2 + XHEAP_MIN;

	xheap_drop(x);
	if ((x->heap = malloc(cap * sizeof(*x->heap))) == NULL)
		return store_err(-1, "store: out of memory");
	x->hcap = cap;
	for (size_t i = 0; i < x->cap; i++)
		if (x->key[i] != 0) {
			x->heap[x->hn].exp = x->exp[i];
			x->heap[x->hn++].key = x->key[i];
		}
	for (size_t i = x->hn / 2; i-- > 0; )
		xheap_down(x->heap, x->hn, i);
	return 0;
}

/*
 * Never fails: without memory (or with too many stale items) the heap is
 * dropped, and the next tick rebuilds it from the index, which is the
 * truth.
 */
static void
xheap_push(struct xidx *x, uint64_t key, uint64_t exp)
{
	size_t lim = 3 * x->n + XHEAP_MIN;

	if (x->heap == NULL)
		return;
	if (x->hn >= lim) {		/* stale items over twice the live ones */
		xheap_drop(x);
		return;
	}
	if (x->hn == x->hcap) {
		/*
		 * Double, but not far past where a rebuild comes anyway (a
		 * quarter more at least, so reallocs stay geometric).
		 */
		size_t cap = x->hcap * 2 < lim ? x->hcap * 2 : lim;
		struct xheap_item *h;

		if (cap < x->hcap + x->hcap / 4)
			cap = x->hcap + x->hcap / 4;
		if ((h = realloc(x->heap, cap * sizeof(*h))) == NULL) {
			xheap_drop(x);
			return;
		}
		x->heap = h;
		x->hcap = cap;
	}
	x->heap[x->hn].exp = exp;
	x->heap[x->hn].key = key;
	xheap_up(x->heap, x->hn++);
}

int
store_xidx_set(struct xidx *x, uint64_t key, uint64_t exp)
{
	size_t s;

	if ((x->n + 1) * 2 > x->cap && xidx_grow(x) < 0)
		return -1;
	for (s = store_key_slot(key, x->cap); x->key[s] != 0; s = (s + 1) & (x->cap - 1))
		if (x->key[s] == key)
			break;
	if (x->key[s] == 0)
		x->n++;
	x->key[s] = key;
	x->exp[s] = exp;
	/*
	 * Pushed even when exp did not change: the tick may hold the key's
	 * item (popped, the entry not yet merged away), and ours must
	 * survive the merge with an item of its own.
	 */
	xheap_push(x, key, exp);
	return 0;
}

bool
store_xidx_get(const struct xidx *x, uint64_t key, uint64_t *exp)
{
	if (x->cap == 0)
		return false;
	for (size_t s = store_key_slot(key, x->cap); x->key[s] != 0; s = (s + 1) & (x->cap - 1))
		if (x->key[s] == key) {
			*exp = x->exp[s];
			return true;
		}
	return false;
}

void
store_xidx_requeue(struct xidx *x, const uint64_t *keys, size_t n)
{
	uint64_t exp;

	for (size_t i = 0; i < n; i++)
		if (store_xidx_get(x, keys[i], &exp))
			xheap_push(x, keys[i], exp);
}

static int
key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
store_xidx_expired(struct xidx *x, uint64_t now, uint64_t **keys, size_t *n)
{
	uint64_t *v = NULL, exp;
	size_t k = 0, cap = 0;

	*keys = NULL;
	*n = 0;
	if (x->heap == NULL && xheap_build(x) < 0)
		return -1;
	while (x->hn > 0 && x->heap[0].exp <= now) {
		struct xheap_item it = x->heap[0];

		x->heap[0] = x->heap[--x->hn];
		xheap_down(x->heap, x->hn, 0);
		if (!store_xidx_get(x, it.key, &exp) || exp != it.exp)
			continue;		/* stale */
		if (k == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			uint64_t *nv = realloc(v, ncap * sizeof(*v));

			if (nv == NULL) {
				xheap_push(x, it.key, it.exp);
				store_xidx_requeue(x, v, k);
				free(v);
				return store_err(-1, "store: out of memory");
			}
			v = nv;
			cap = ncap;
		}
		v[k++] = it.key;
	}
	/* Sorted (ARP first, then NAT) for deterministic trees and messages. */
	if (k > 0)
		qsort(v, k, sizeof(*v), key_cmp);
	*n = 0;
	for (size_t i = 0; i < k; i++)	/* an unchanged expiry set again: twice */
		if (*n == 0 || v[*n - 1] != v[i])
			v[(*n)++] = v[i];
	*keys = v;
	return 0;
}

/* Linear probing with backward-shift deletion: no tombstones. */
void
store_xidx_del(struct xidx *x, uint64_t key)
{
	size_t s, m = x->cap - 1;

	if (x->cap == 0)
		return;
	for (s = store_key_slot(key, x->cap); x->key[s] != key; s = (s + 1) & m)
		if (x->key[s] == 0)
			return;
	x->key[s] = 0;
	x->n--;
	for (size_t i = (s + 1) & m; x->key[i] != 0; i = (i + 1) & m) {
		size_t home = store_key_slot(x->key[i], x->cap);

		/* Move i back into the hole unless its home lies in (s, i]. */
		if (((i - home) & m) >= ((i - s) & m)) {
			x->key[s] = x->key[i];
			x->exp[s] = x->exp[i];
			x->key[i] = 0;
			s = i;
		}
	}
}

void
store_xidx_free(struct xidx *x)
{
	free(x->key);
	free(x->exp);
	free(x->heap);
	memset(x, 0, sizeof(*x));
}
