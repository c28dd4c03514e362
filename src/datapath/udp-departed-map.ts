// Codec for bpf/include/udp_departed_map.h: the (VIP, backend) pairs one socket-iterator pass
// destroys the connected UDP sockets of. The key is a socket's own record (struct sock_revnat).
import { presenceValueLayout } from '../bpf/struct-layout.js';
import { sockRevnatLayout } from './revnat-maps.js';

export const UDP_DEPARTED_MAP = 'slb_udp_departed';

/** UDP_DEPARTED_MAX: pairs per pass. */
export const UDP_DEPARTED_CAPACITY = 16384;

export const udpDepartedKeyLayout = sockRevnatLayout;
export const udpDepartedValueLayout = presenceValueLayout;
