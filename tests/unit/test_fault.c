/* Port-layer fault injection: rates, determinism, reordering, ownership. */
#include "dataplane/port/fault.h"

#include <stdlib.h>

#include "check.h"

/* Packets are integers boxed in small heap cells so ASan sees every free. */
struct pkt {
	int id;
	int corrupted;
};

static int live;

static void op_free(void *user, void *p)
{
	(void)user;
	live--;
	free(p);
}

static void *op_clone(void *user, void *p)
{
	(void)user;
	struct pkt *c = malloc(sizeof *c);
	*c = *(struct pkt *)p;
	live++;
	return c;
}

static void op_corrupt(void *user, void *p, uint64_t rnd)
{
	(void)user;
	(void)rnd;
	((struct pkt *)p)->corrupted++;
}

static const struct fault_ops ops = {op_free, op_clone, op_corrupt, NULL};

static struct pkt *mk(int id)
{
	struct pkt *p = calloc(1, sizeof *p);
	p->id = id;
	live++;
	return p;
}

/* Push `total` packets through in bursts of 32 and return what came out. */
static uint32_t run(struct fault_state *st, int total, int *ids, int idcap)
{
	uint32_t got = 0;
	void *in[32], *out[65];
	for (int base = 0; base < total; base += 32) {
		uint16_t n = 0;
		for (int i = base; i < total && n < 32; i++)
			in[n++] = mk(i);
		uint16_t k = fault_apply(st, &ops, in, n, out, 65);
		for (uint16_t j = 0; j < k; j++) {
			if ((int)got < idcap)
				ids[got] = ((struct pkt *)out[j])->id;
			got++;
			op_free(NULL, out[j]);
		}
	}
	void *out2[2];
	uint16_t k = fault_apply(st, &ops, NULL, 0, out2, 2);
	for (uint16_t j = 0; j < k; j++) {
		if ((int)got < idcap)
			ids[got] = ((struct pkt *)out2[j])->id;
		got++;
		op_free(NULL, out2[j]);
	}
	return got;
}

static int ids[300000];

int main(void)
{
	struct fault_state st;

	/* Off: not enabled, and a pass-through if called anyway. */
	fault_init(&st, 0, 0, 0, 0, 1, 0);
	CHECK(!st.enabled);
	CHECK_EQ_U64(run(&st, 1000, ids, 300000), 1000);
	for (int i = 0; i < 1000; i++)
		CHECK(ids[i] == i);
	CHECK_EQ_U64(live, 0);

	/* 2% drop over 100k packets lands near 2000 (6 sigma ~ 265). */
	fault_init(&st, 0.02, 0, 0, 0, 42, 0);
	CHECK(st.enabled);
	uint32_t got = run(&st, 100000, ids, 300000);
	CHECK_EQ_U64(got + st.stats.dropped, 100000);
	CHECK(st.stats.dropped > 1735 && st.stats.dropped < 2265);
	CHECK_EQ_U64(live, 0);

	/* Same seed, same faults; another seed, other faults. */
	struct fault_state a, b, c;
	fault_init(&a, 0.1, 0.05, 0.05, 0.01, 7, 3);
	fault_init(&b, 0.1, 0.05, 0.05, 0.01, 7, 3);
	fault_init(&c, 0.1, 0.05, 0.05, 0.01, 8, 3);
	static int ia[20000], ib[20000], ic[20000];
	uint32_t na = run(&a, 10000, ia, 20000);
	uint32_t nb = run(&b, 10000, ib, 20000);
	uint32_t nc = run(&c, 10000, ic, 20000);
	CHECK_EQ_U64(na, nb);
	CHECK(memcmp(ia, ib, sizeof(int) * na) == 0);
	CHECK(na != nc || memcmp(ia, ic, sizeof(int) * na) != 0);
	CHECK_EQ_U64(na, 10000 - a.stats.dropped + a.stats.duplicated);
	CHECK_EQ_U64(live, 0);

	/* Duplicates: every packet appears once or twice, never lost. */
	fault_init(&st, 0, 0.3, 0, 0, 9, 0);
	got = run(&st, 5000, ids, 300000);
	CHECK_EQ_U64(got, 5000 + st.stats.duplicated);
	static int seen[5000];
	memset(seen, 0, sizeof seen);
	for (uint32_t i = 0; i < got; i++)
		seen[ids[i]]++;
	int ones = 0, twos = 0;
	for (int i = 0; i < 5000; i++) {
		ones += seen[i] == 1;
		twos += seen[i] == 2;
	}
	CHECK_EQ_U64(ones + twos, 5000);
	CHECK_EQ_U64(twos, st.stats.duplicated);

	/* Reorder: nothing lost or duplicated, some packets out of order, and a
	 * held packet never moves more than one burst later. */
	fault_init(&st, 0, 0, 0.2, 0, 11, 0);
	got = run(&st, 10000, ids, 300000);
	CHECK_EQ_U64(got, 10000);
	int inversions = 0, far = 0;
	memset(seen, 0, sizeof seen);
	for (uint32_t i = 0; i < got; i++) {
		if (ids[i] < 5000)
			seen[ids[i]]++;
		if (i > 0 && ids[i] < ids[i - 1])
			inversions++;
		if (abs(ids[i] - (int)i) > 64)
			far++;
	}
	CHECK(inversions > 0);
	CHECK_EQ_U64(inversions, st.stats.reordered);
	CHECK_EQ_U64(far, 0);
	for (int i = 0; i < 5000; i++)
		CHECK(seen[i] == 1);

	/* A held packet is released by the next call even if it is empty. */
	fault_init(&st, 0, 0, 0.999999, 0, 5, 0);
	void *in1[1] = {mk(1)};
	void *out[4];
	CHECK_EQ_U64(fault_apply(&st, &ops, in1, 1, out, 4), 0);
	CHECK(st.held != NULL);
	uint16_t k = fault_apply(&st, &ops, NULL, 0, out, 4);
	CHECK_EQ_U64(k, 1);
	CHECK(((struct pkt *)out[0])->id == 1);
	op_free(NULL, out[0]);
	/* ...and fault_flush gives one back at shutdown. */
	void *in2[1] = {mk(2)};
	CHECK_EQ_U64(fault_apply(&st, &ops, in2, 1, out, 4), 0);
	fault_flush(&st, &ops);
	CHECK(st.held == NULL);
	CHECK_EQ_U64(live, 0);

	/* Corruption is reported through ops at about the rate. */
	fault_init(&st, 0, 0, 0, 0.05, 13, 0);
	int corrupted = 0;
	for (int i = 0; i < 20000; i++) {
		void *one[1] = {mk(i)};
		void *o[3];
		uint16_t m = fault_apply(&st, &ops, one, 1, o, 3);
		for (uint16_t j = 0; j < m; j++) {
			corrupted += ((struct pkt *)o[j])->corrupted;
			op_free(NULL, o[j]);
		}
	}
	CHECK_EQ_U64(corrupted, st.stats.corrupted);
	CHECK(corrupted > 800 && corrupted < 1200);

	/* A full output array frees rather than leaks. */
	fault_init(&st, 0, 0.999999, 0, 0, 3, 0);
	void *in3[4] = {mk(1), mk(2), mk(3), mk(4)};
	void *o3[4];
	k = fault_apply(&st, &ops, in3, 4, o3, 4);
	CHECK_EQ_U64(k, 4);
	for (uint16_t j = 0; j < k; j++)
		op_free(NULL, o3[j]);
	CHECK_EQ_U64(live, 0);

	CHECK_DONE();
}
