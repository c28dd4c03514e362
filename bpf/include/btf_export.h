/* Puts a type no map or program mentions (an enum of codes or flags) into the object's BTF, so
 * user space can check its mirror of the names and values against the compiled object
 * (test/bpf/btf-layouts.test.ts), as it checks the map structs. The type becomes the parameter
 * of a function that is kept (used) but never called: libbpf loads only the subprograms a
 * program calls, so this costs no instruction anywhere. */
#ifndef SOCKLB_BTF_EXPORT_H
#define SOCKLB_BTF_EXPORT_H

#define BTF_EXPORT(type, tag)                                                          \
	__attribute__((used, noinline)) static int btf_export_##tag(type *unused)      \
	{                                                                              \
		return unused != 0;                                                    \
	}

#endif
