/* The random draw that spreads new connections over a service's backends. A helper call
 * (bpf_get_prandom_u32()) and a division per translated connect cost ~170 ns together on this
 * kind of machine (a call and return through the CPU's return-thunk mitigation, then a 64-bit
 * divide): a fifth of the hook. A per-CPU xorshift64* state read in place (the lookup of a
 * per-CPU array is inlined into the program) and a multiply-shift instead of the modulo cost a
 * few instructions. The state is seeded from the kernel's generator on first use on each CPU;
 * two programs interleaving on one CPU (preemption) may draw the same number, which only
 * makes two connections pick the same backend. */
#ifndef SOCKLB_LB_RANDOM_H
#define SOCKLB_LB_RANDOM_H

#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} slb_random SEC(".maps");

static __always_inline __u32 lb_random(void)
{
	__u32 zero = 0;
	__u64 *state = bpf_map_lookup_elem(&slb_random, &zero);
	__u64 x;

	if (!state)
		return bpf_get_prandom_u32();
	x = *state;
	if (x == 0)
		x = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32() | 1;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (x * 0x2545F4914F6CDD1DULL) >> 32;
}

/* A uniform draw below n (n > 0): the high half of random × n, no division. */
static __always_inline __u32 lb_random_below(__u32 n)
{
	return ((__u64)lb_random() * n) >> 32;
}

#endif
