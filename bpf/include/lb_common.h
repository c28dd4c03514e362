/* Types and constants every socklb program shares. */
#ifndef SOCKLB_LB_COMMON_H
#define SOCKLB_LB_COMMON_H

#include <linux/types.h>
#include <stdbool.h>

/* An address as 4 words in network byte order. IPv4 is stored v4-mapped (::ffff:a.b.c.d) so
 * one map serves both families and a v4 service reached from a v6 socket through a v4-mapped
 * address hits the same entry as connect4 does. */
struct lb_address {
	__u32 words[4];
};

#define LB_V4_MAPPED_PREFIX 0xffff0000 /* bpf_htonl(0x0000ffff) on little endian */

static __always_inline bool lb_address_equal(const struct lb_address *a, const struct lb_address *b)
{
	return a->words[0] == b->words[0] && a->words[1] == b->words[1] && a->words[2] == b->words[2] && a->words[3] == b->words[3];
}

#ifndef EPERM
#define EPERM 1
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

/* Socket hooks: a return of 1 lets the syscall go on, 0 fails it (with bpf_set_retval's errno). */
#define SYSCALL_PROCEED 1
#define SYSCALL_REJECT 0

#endif
