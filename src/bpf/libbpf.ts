// The libbpf (libbpf.so.1) and libc functions socklb calls, bound with koffi. Nothing else in
// the code base talks to native code; everything above uses the typed wrappers in this folder.
import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';

/** An opaque libbpf handle (struct bpf_object *, bpf_map *, bpf_program *, bpf_link *). */
export type Handle = unknown;

function loadLibrary(name: string): LibraryHandle {
  try {
    return koffi.load(name);
  } catch (err) {
    throw new Error(`cannot load ${name}: ${(err as Error).message}. Install it (Debian: apt-get install libbpf1 libc6) or run scripts/setup.sh.`);
  }
}

const libbpf = loadLibrary('libbpf.so.1');
const libc = loadLibrary('libc.so.6');

const printFn = koffi.proto('int socklb_libbpf_print_fn(int level, const char *format, void *args)');

// libbpf's option structs, field for field (libbpf/libbpf.h, bpf.h). Each starts with its own
// size, which libbpf checks, so koffi's layout must equal C's: test/bpf/libbpf-structs.test.ts
// compiles a probe against the installed headers and compares every offset and the size.
export const LIBBPF_STRUCTS = {
  bpf_tc_hook: { sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t' },
  bpf_tc_opts: { sz: 'size_t', prog_fd: 'int', flags: 'uint32_t', prog_id: 'uint32_t', handle: 'uint32_t', priority: 'uint32_t' },
  bpf_test_run_opts: {
    sz: 'size_t',
    data_in: 'const void *',
    data_out: 'void *',
    data_size_in: 'uint32_t',
    data_size_out: 'uint32_t',
    ctx_in: 'const void *',
    ctx_out: 'void *',
    ctx_size_in: 'uint32_t',
    ctx_size_out: 'uint32_t',
    retval: 'uint32_t',
    repeat: 'int',
    duration: 'uint32_t',
    flags: 'uint32_t',
    cpu: 'uint32_t',
    batch_size: 'uint32_t',
  },
} as const;
export type LibbpfStruct = keyof typeof LIBBPF_STRUCTS;
for (const [name, fields] of Object.entries(LIBBPF_STRUCTS)) koffi.struct(name, fields);

/** sizeof(struct name) as koffi lays it out: the value of the struct's sz field. */
export const libbpfStructSize = (name: LibbpfStruct): number => koffi.sizeof(name);
/** offsetof(struct name, field) as koffi lays it out. */
export const libbpfFieldOffset = (name: LibbpfStruct, field: string): number => koffi.offsetof(name, field);

export const native = {
  objectOpenFile: libbpf.func('void *bpf_object__open_file(const char *path, const void *opts)'),
  objectLoad: libbpf.func('int bpf_object__load(void *obj)'),
  objectClose: libbpf.func('void bpf_object__close(void *obj)'),
  objectNextMap: libbpf.func('void *bpf_object__next_map(const void *obj, const void *map)'),
  objectNextProgram: libbpf.func('void *bpf_object__next_program(const void *obj, void *prog)'),
  mapName: libbpf.func('const char *bpf_map__name(const void *map)'),
  mapFd: libbpf.func('int bpf_map__fd(const void *map)'),
  mapSetPinPath: libbpf.func('int bpf_map__set_pin_path(void *map, const char *path)'),
  mapType: libbpf.func('int bpf_map__type(const void *map)'),
  mapKeySize: libbpf.func('uint32_t bpf_map__key_size(const void *map)'),
  mapValueSize: libbpf.func('uint32_t bpf_map__value_size(const void *map)'),
  mapMaxEntries: libbpf.func('uint32_t bpf_map__max_entries(const void *map)'),
  mapFlags: libbpf.func('uint32_t bpf_map__map_flags(const void *map)'),
  programName: libbpf.func('const char *bpf_program__name(const void *prog)'),
  programSectionName: libbpf.func('const char *bpf_program__section_name(const void *prog)'),
  programFd: libbpf.func('int bpf_program__fd(const void *prog)'),
  tcHookCreate: libbpf.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
  tcAttach: libbpf.func('int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  tcDetach: libbpf.func('int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)'),
  tcQuery: libbpf.func('int bpf_tc_query(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  progTestRun: libbpf.func('int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)'),
  programAttachCgroup: libbpf.func('void *bpf_program__attach_cgroup(const void *prog, int cgroup_fd)'),
  programAttachIter: libbpf.func('void *bpf_program__attach_iter(const void *prog, const void *opts)'),
  iterCreate: libbpf.func('int bpf_iter_create(int link_fd)'),
  linkOpen: libbpf.func('void *bpf_link__open(const char *path)'),
  linkPin: libbpf.func('int bpf_link__pin(void *link, const char *path)'),
  linkFd: libbpf.func('int bpf_link__fd(const void *link)'),
  linkUpdateProgram: libbpf.func('int bpf_link__update_program(void *link, void *prog)'),
  linkDetach: libbpf.func('int bpf_link__detach(void *link)'),
  linkDestroy: libbpf.func('int bpf_link__destroy(void *link)'),
  objGet: libbpf.func('int bpf_obj_get(const char *path)'),
  objGetInfoByFd: libbpf.func('int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *len)'),
  progGetFdById: libbpf.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
  enableStats: libbpf.func('int bpf_enable_stats(int type)'),
  mapUpdateElem: libbpf.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  mapLookupElem: libbpf.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  mapDeleteElem: libbpf.func('int bpf_map_delete_elem(int fd, const void *key)'),
  mapUpdateBatch: libbpf.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const void *opts)'),
  mapDeleteBatch: libbpf.func('int bpf_map_delete_batch(int fd, const void *keys, _Inout_ uint32_t *count, const void *opts)'),
  mapLookupBatch: libbpf.func('int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, const void *opts)'),
  mapGetNextKey: libbpf.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
  numPossibleCpus: libbpf.func('int libbpf_num_possible_cpus(void)'),
  setPrint: libbpf.func('void *libbpf_set_print(socklb_libbpf_print_fn *fn)'),
  close: libc.func('int close(int fd)'),
  flock: libc.func('int flock(int fd, int operation)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *ifname)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  send: libc.func('intptr_t send(int fd, const void *buf, size_t len, int flags)'),
  recv: libc.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)'),
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *format, void *args)'),
};

/** The errno libbpf left for a call that returned NULL (libbpf 1.x sets errno on failure). */
export function lastErrno(): number {
  return koffi.errno();
}

// libbpf prints loader and verifier messages through a callback; we keep the latest lines so
// an error can say why a load or attach failed instead of only "Permission denied".
const recentLog: string[] = [];
const RECENT_LOG_LINES = 200;
const formatBuffer = Buffer.alloc(4096);

/** Routes libbpf's messages into our buffer; called once by the loader before opening objects. */
let printInstalled = false;
export function captureLibbpfLog(): void {
  if (printInstalled) return;
  printInstalled = true;
  native.setPrint(printCallback);
}

// libbpf's levels: 0 warn, 1 info, 2 debug. Warnings carry what explains a failure (verifier
// logs, pinned maps that do not fit); the debug lines would bury them.
const LIBBPF_WARN = 0;

const printCallback = koffi.register((level: number, format: string, args: unknown) => {
  if (level > LIBBPF_WARN) return 0;
  const n = native.vsnprintf(formatBuffer, formatBuffer.length, format, args) as number;
  const text = formatBuffer.subarray(0, Math.max(0, Math.min(n, formatBuffer.length - 1))).toString('utf8');
  for (const line of text.split('\n')) if (line.trim()) recentLog.push(line.trimEnd());
  if (recentLog.length > RECENT_LOG_LINES) recentLog.splice(0, recentLog.length - RECENT_LOG_LINES);
  return 0;
}, koffi.pointer(printFn));

/** Takes and clears what libbpf printed since the last call. */
export function drainLibbpfLog(): string[] {
  return recentLog.splice(0, recentLog.length);
}
