// The parts of Kubernetes API objects socklb reads, shaped as the API serves them
// (v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 Pod, Node and Namespace, networking.k8s.io/v1
// NetworkPolicy). Every field is optional and may hold
// anything: objects come from files people write, so the model checks each before use.
export interface ObjectMeta {
  name?: unknown;
  namespace?: unknown;
  labels?: unknown;
  annotations?: unknown;
  resourceVersion?: unknown;
}

export interface ServicePort {
  name?: unknown;
  protocol?: unknown;
  port?: unknown;
  targetPort?: unknown;
  /** NodePort and LoadBalancer services: the port opened on every node's addresses. */
  nodePort?: unknown;
}

export interface ServiceSpec {
  type?: unknown;
  clusterIP?: unknown;
  clusterIPs?: unknown;
  ports?: unknown;
  internalTrafficPolicy?: unknown;
  trafficDistribution?: unknown;
  sessionAffinity?: unknown;
  sessionAffinityConfig?: unknown;
  /** Addresses routed to the cluster that the service answers on (any type). */
  externalIPs?: unknown;
  /** Cluster | Local: which endpoints traffic from outside the cluster may reach. */
  externalTrafficPolicy?: unknown;
  /** CIDRs the load balancer admits clients from. */
  loadBalancerSourceRanges?: unknown;
  /** false: a LoadBalancer service without node ports. */
  allocateLoadBalancerNodePorts?: unknown;
  /** LoadBalancer with externalTrafficPolicy Local: the node port a load balancer health-checks. */
  healthCheckNodePort?: unknown;
}

export interface ServiceStatus {
  /** {ingress: [{ip, hostname, ipMode: VIP | Proxy}]} */
  loadBalancer?: unknown;
}

export interface Service {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: ObjectMeta;
  spec?: ServiceSpec;
  status?: ServiceStatus;
}

export interface EndpointConditions {
  ready?: unknown;
  serving?: unknown;
  terminating?: unknown;
}

export interface Endpoint {
  addresses?: unknown;
  conditions?: EndpointConditions;
  nodeName?: unknown;
  zone?: unknown;
  hints?: unknown;
}

export interface Node {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: ObjectMeta;
  /** status.addresses[]: {type: InternalIP | ExternalIP | Hostname | ..., address}. */
  status?: { addresses?: unknown };
}

/** The Node label kube-proxy reads the zone from. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export interface EndpointPort {
  name?: unknown;
  port?: unknown;
  protocol?: unknown;
}

export interface EndpointSlice {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: ObjectMeta;
  addressType?: unknown;
  endpoints?: unknown;
  ports?: unknown;
}

/** The label that joins an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Services with this label belong to another proxy, as kube-proxy honours it. */
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';

/** v1 Pod: its addresses (a cluster IP must never be one), and for NetworkPolicy where it runs,
 * its labels and its named container ports. */
export interface Pod {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: ObjectMeta;
  spec?: {
    nodeName?: unknown;
    /** containers[].ports[]: {name, containerPort, protocol (default TCP)}. */
    containers?: unknown;
  };
  status?: { podIP?: unknown; podIPs?: unknown };
}

/** v1 Namespace: its labels, for namespaceSelectors. */
export interface Namespace {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: ObjectMeta;
}

/** metav1.LabelSelector: {matchLabels: {k: v}, matchExpressions: [{key, operator, values}]}. */
export type RawLabelSelector = unknown;

/** networking.k8s.io/v1 NetworkPolicyPeer: ipBlock {cidr, except}, or podSelector and/or namespaceSelector. */
export interface RawPolicyPeer {
  podSelector?: RawLabelSelector;
  namespaceSelector?: RawLabelSelector;
  ipBlock?: unknown;
}

/** networking.k8s.io/v1 NetworkPolicyPort: protocol (default TCP), port (number or name), endPort. */
export interface RawPolicyPort {
  protocol?: unknown;
  port?: unknown;
  endPort?: unknown;
}

export interface NetworkPolicySpec {
  podSelector?: RawLabelSelector;
  policyTypes?: unknown;
  /** [{from: RawPolicyPeer[], ports: RawPolicyPort[]}] */
  ingress?: unknown;
  /** [{to: RawPolicyPeer[], ports: RawPolicyPort[]}] */
  egress?: unknown;
}

export interface NetworkPolicy {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: ObjectMeta;
  spec?: NetworkPolicySpec;
}

/** The API versions socklb reads, by kind; an object of another version is reported and skipped. */
export const API_VERSIONS: Record<string, string> = {
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Pod: 'v1',
  Node: 'v1',
  Namespace: 'v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  List: 'v1',
  ServiceList: 'v1',
  EndpointSliceList: 'discovery.k8s.io/v1',
  PodList: 'v1',
  NodeList: 'v1',
  NamespaceList: 'v1',
  NetworkPolicyList: 'networking.k8s.io/v1',
};
