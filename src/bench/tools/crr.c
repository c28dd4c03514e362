// crr: connect-request-response-close, the short-connection workload no Debian tool runs
// the way the comparison needs (one new TCP connection per 1-byte request, latency per
// connection, a fixed duration), and its long-connection twin.
//   crr server PORT [ID]                 accept; answer each 1-byte request with the byte ID (0-255,
//                                        default 0) until the peer closes; forever
//   crr client HOSTS PORT DURATION_MS [MAX]  connect/request/response/close in a loop for DURATION_MS
//                                        or MAX transactions; HOSTS may be a comma-separated list,
//                                        used in turn (client-side balancing, for direct runs)
//   crr rr HOST PORT DURATION_MS [MAX]   one connection, request/response in a loop
//   crr udp HOSTS PORT DURATION_MS [MAX] one unconnected UDP socket: sendto, recvfrom, in a loop
//                                        (a host list is used in turn, datagram by datagram)
//   crr peer HOSTS PORT DURATION_MS [MAX] as client, and each connection's getpeername() must be
//                                        the address dialed (a service's VIP, not its backend)
//   crr dns HOSTS PORT DURATION_MS [MAX] a connected UDP socket per exchange, as a resolver makes:
//                                        connect, send, recvfrom, getpeername, close; the reply's
//                                        source and the peer must both be the address dialed
// The server answers UDP datagrams on the same port (a forked child), also with its ID.
// Clients print one JSON line: {"connections":N,"errors":E,"elapsed_ns":T,"p50_ns":..,"p99_ns":..,
// "replies":{"ID":count,...}} where "connections" counts transactions (for rr, requests on the one
// connection) and replies says which servers answered them: the bench checks that traffic went
// to the service's backends and no others.
// The client closes with SO_LINGER 0 (RST): no TIME_WAIT, so a long run cannot exhaust
// ephemeral ports and every connection costs the same.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 4000000

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int serve(const char *port, unsigned char id)
{
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(port)), .sin6_addr = in6addr_any };
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4096)) {
		perror("crr server");
		return 1;
	}
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	if (u < 0 || setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) || bind(u, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("crr server (udp)");
		return 1;
	}
	if (fork() == 0) {
		/* The UDP echo; it dies with the server, which is what the lab ends by PID. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			return 0;
		for (;;) {
			char b[64];
			struct sockaddr_storage from;
			socklen_t len = sizeof(from);
			ssize_t n = recvfrom(u, b, sizeof(b), 0, (struct sockaddr *)&from, &len);
			if (n > 0)
				(void)!sendto(u, &id, 1, 0, (struct sockaddr *)&from, len);
		}
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		char b;
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		while (read(c, &b, 1) == 1 && write(c, &id, 1) == 1)
			;
		close(c);
	}
}

#define MAX_HOSTS 256

/* One client's targets (used in turn) and, for rr and udp, the socket all its transactions use. */
struct target {
	struct addrinfo *ai[MAX_HOSTS];
	int hosts, next, fd;
	uint64_t replies[256]; /* by the answering server's ID */
};

/* One request and its response; 0 when answered. */
typedef int (*transaction_fn)(struct target *t);

/* Whether an address the kernel reports (getpeername, recvfrom) is the one dialed. */
static int same_address(const struct sockaddr_storage *got, socklen_t len, const struct addrinfo *dialed)
{
	return len == dialed->ai_addrlen && !memcmp(got, dialed->ai_addr, len);
}

static int peer_is_dialed(int fd, const struct addrinfo *dialed)
{
	struct sockaddr_storage peer = {};
	socklen_t len = sizeof(peer);

	return !getpeername(fd, (struct sockaddr *)&peer, &len) && same_address(&peer, len, dialed);
}

static int check_peer; /* crr peer: getpeername() after each connect */

static int connect_request_response_close(struct target *t)
{
	static const struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	/* A connect that is never answered (a datapath that cannot balance on this pod network:
	 * dropped, or answered from the backend's own address) fails after a second instead of
	 * after the kernel's SYN retries: the run reports errors rather than hanging. One
	 * setsockopt per connection, the same in every mode. */
	static const struct timeval connect_timeout = { .tv_sec = 1 };
	int one = 1, ok;
	unsigned char b = 'x';
	struct addrinfo *ai = t->ai[t->next];
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);

	t->next = (t->next + 1) % t->hosts;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &connect_timeout, sizeof(connect_timeout));
	ok = !connect(fd, ai->ai_addr, ai->ai_addrlen) && (!check_peer || peer_is_dialed(fd, ai)) &&
	     write(fd, &b, 1) == 1 && read(fd, &b, 1) == 1;
	close(fd);
	if (ok)
		t->replies[b]++;
	return ok ? 0 : -1;
}

static int connected_datagram_exchange(struct target *t)
{
	static const struct timeval timeout = { .tv_sec = 1 };
	struct addrinfo *ai = t->ai[t->next];
	struct sockaddr_storage from = {};
	socklen_t len = sizeof(from);
	unsigned char b = 'x';
	int fd = socket(ai->ai_family, SOCK_DGRAM, 0), ok;

	t->next = (t->next + 1) % t->hosts;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	ok = !connect(fd, ai->ai_addr, ai->ai_addrlen) && send(fd, &b, 1, 0) == 1 &&
	     recvfrom(fd, &b, 1, 0, (struct sockaddr *)&from, &len) == 1 && same_address(&from, len, ai) &&
	     peer_is_dialed(fd, ai);
	close(fd);
	if (ok)
		t->replies[b]++;
	return ok ? 0 : -1;
}

static int request_response(struct target *t)
{
	unsigned char b = 'x';
	if (write(t->fd, &b, 1) != 1 || read(t->fd, &b, 1) != 1)
		return -1;
	t->replies[b]++;
	return 0;
}

static int datagram_request_response(struct target *t)
{
	unsigned char b = 'x';
	struct addrinfo *ai = t->ai[t->next];

	/* Like a VIP balanced per datagram, a host list is used in turn, datagram by datagram. */
	t->next = (t->next + 1) % t->hosts;
	if (sendto(t->fd, &b, 1, 0, ai->ai_addr, ai->ai_addrlen) != 1 || recvfrom(t->fd, &b, 1, 0, NULL, NULL) != 1)
		return -1;
	t->replies[b]++;
	return 0;
}

/* Runs transactions for duration_ms (or max of them) and prints the JSON line; gives up after max_errors. */
static int measure(struct target *t, transaction_fn once, long duration_ms, uint64_t max, uint64_t max_errors)
{
	uint64_t *samples = malloc(sizeof(uint64_t) * MAX_SAMPLES);
	uint64_t start = now_ns(), deadline = start + (uint64_t)duration_ms * 1000000ull, n = 0, errors = 0;
	const char *sep = "";

	if (!samples)
		return 2;
	while (now_ns() < deadline && n < max) {
		uint64_t t0 = now_ns();
		if (once(t)) {
			if (++errors > max_errors)
				break;
			continue;
		}
		if (n < MAX_SAMPLES)
			samples[n] = now_ns() - t0;
		n++;
	}
	uint64_t elapsed = now_ns() - start, kept = n < MAX_SAMPLES ? n : MAX_SAMPLES;
	qsort(samples, kept, sizeof(uint64_t), cmp_u64);
	printf("{\"connections\":%lu,\"errors\":%lu,\"elapsed_ns\":%lu,\"p50_ns\":%lu,\"p99_ns\":%lu,\"replies\":{",
	       (unsigned long)n, (unsigned long)errors, (unsigned long)elapsed,
	       (unsigned long)(kept ? samples[kept / 2] : 0), (unsigned long)(kept ? samples[kept * 99 / 100] : 0));
	for (int id = 0; id < 256; id++) {
		if (t->replies[id]) {
			printf("%s\"%d\":%lu", sep, id, (unsigned long)t->replies[id]);
			sep = ",";
		}
	}
	printf("}}\n");
	return errors > max_errors ? 1 : 0;
}

static struct target t;

static int run_client(const char *mode, char *hosts, const char *port, long duration_ms, uint64_t max)
{
	int udp = !strcmp(mode, "udp") || !strcmp(mode, "dns");
	struct addrinfo hints = { .ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	int one = 1;

	t.fd = -1;
	for (char *host = strtok(hosts, ","); host; host = strtok(NULL, ",")) {
		if (t.hosts == MAX_HOSTS || getaddrinfo(host, port, &hints, &t.ai[t.hosts])) {
			fprintf(stderr, "crr %s: bad address %s:%s (or more than %d hosts)\n", mode, host, port, MAX_HOSTS);
			return 2;
		}
		t.hosts++;
	}
	if (t.hosts == 0)
		return 2;
	check_peer = !strcmp(mode, "peer");
	if (!strcmp(mode, "client") || check_peer)
		return measure(&t, connect_request_response_close, duration_ms, max, 1000);
	if (!strcmp(mode, "dns"))
		return measure(&t, connected_datagram_exchange, duration_ms, max, 1000);
	t.fd = socket(t.ai[0]->ai_family, hints.ai_socktype, 0);
	if (udp) {
		struct timeval timeout = { .tv_sec = 1 };
		setsockopt(t.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
		return measure(&t, datagram_request_response, duration_ms, max, 1000);
	}
	/* rr: one connection; a failure on it ends the run. */
	setsockopt(t.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(t.fd, t.ai[0]->ai_addr, t.ai[0]->ai_addrlen)) {
		perror("crr rr: connect");
		return 1;
	}
	return measure(&t, request_response, duration_ms, max, 0);
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "server"))
		return serve(argv[2], argc == 4 ? (unsigned char)atoi(argv[3]) : 0);
	if ((argc == 5 || argc == 6) && (!strcmp(argv[1], "client") || !strcmp(argv[1], "rr") || !strcmp(argv[1], "udp") ||
					     !strcmp(argv[1], "peer") || !strcmp(argv[1], "dns")))
		return run_client(argv[1], argv[2], argv[3], atol(argv[4]), argc == 6 ? strtoull(argv[5], NULL, 10) : UINT64_MAX);
	fprintf(stderr, "usage: crr server PORT [ID] | crr client|rr|udp|peer|dns HOSTS PORT DURATION_MS [MAX]\n");
	return 2;
}
