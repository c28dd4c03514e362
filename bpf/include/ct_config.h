/* The conntrack table's build-time settings, in one place, each overridable with -D
 * (make -C bpf EXTRA_CFLAGS=-DCT_LIFETIME_TCP_ESTABLISHED=3600). User space keeps no copy of
 * the lifetimes (entries carry their expiry); the capacity it reports is checked against the
 * compiled object's BTF. */
#ifndef SOCKLB_CT_CONFIG_H
#define SOCKLB_CT_CONFIG_H

/* Lifetimes in seconds, as Cilium's defaults: a handshake or a closing TCP flow is kept
 * briefly, an established one long (its packets refresh it), UDP until idle for a minute. */
#ifndef CT_LIFETIME_TCP_OPENING
#define CT_LIFETIME_TCP_OPENING 60
#endif
#ifndef CT_LIFETIME_TCP_ESTABLISHED
#define CT_LIFETIME_TCP_ESTABLISHED 21600
#endif
#ifndef CT_LIFETIME_TCP_CLOSING
#define CT_LIFETIME_TCP_CLOSING 10
#endif
#ifndef CT_LIFETIME_NONTCP
#define CT_LIFETIME_NONTCP 60
#endif

/* Entries in slb_ct (two per flow). */
#ifndef CT_MAX
#define CT_MAX 262144
#endif

/* An LRU hash: a full table evicts its oldest entry instead of refusing a new flow. Tests build
 * a plain hash (which refuses when full) to see how a refused insert is handled. */
#ifndef CT_MAP_TYPE
#define CT_MAP_TYPE BPF_MAP_TYPE_LRU_HASH
#endif

#endif
