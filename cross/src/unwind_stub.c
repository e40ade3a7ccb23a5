/* A do-nothing libunwind for the musl builds (aarch64, mipsel, mips, x86_64).
 *
 * Rust's std links -lunwind on musl targets. meshd is built with
 * panic = "abort", so nothing ever unwinds: these entry points only have to
 * exist. Backtraces come out empty. No libc headers and no floating point:
 * it is compiled with -ffreestanding (and -msoft-float on MIPS), so it adds
 * no FPU instruction to a soft-float binary. See ../README.md. */
typedef unsigned long uintptr_t;
void abort(void);
typedef int _Unwind_Reason_Code;
struct _Unwind_Context;
struct _Unwind_Exception;
typedef _Unwind_Reason_Code (*_Unwind_Trace_Fn)(struct _Unwind_Context *, void *);

/* 5 = _URC_END_OF_STACK: the walk ends at once. */
_Unwind_Reason_Code _Unwind_Backtrace(_Unwind_Trace_Fn f, void *a) { (void)f; (void)a; return 5; }
uintptr_t _Unwind_GetIP(struct _Unwind_Context *c) { (void)c; return 0; }
uintptr_t _Unwind_GetIPInfo(struct _Unwind_Context *c, int *b) { (void)c; if (b) *b = 0; return 0; }
uintptr_t _Unwind_GetCFA(struct _Unwind_Context *c) { (void)c; return 0; }
uintptr_t _Unwind_GetGR(struct _Unwind_Context *c, int i) { (void)c; (void)i; return 0; }
void _Unwind_SetGR(struct _Unwind_Context *c, int i, uintptr_t v) { (void)c; (void)i; (void)v; }
void _Unwind_SetIP(struct _Unwind_Context *c, uintptr_t v) { (void)c; (void)v; }
uintptr_t _Unwind_GetRegionStart(struct _Unwind_Context *c) { (void)c; return 0; }
uintptr_t _Unwind_GetTextRelBase(struct _Unwind_Context *c) { (void)c; return 0; }
uintptr_t _Unwind_GetDataRelBase(struct _Unwind_Context *c) { (void)c; return 0; }
void *_Unwind_GetLanguageSpecificData(struct _Unwind_Context *c) { (void)c; return 0; }
void *_Unwind_FindEnclosingFunction(void *pc) { (void)pc; return 0; }
_Unwind_Reason_Code _Unwind_RaiseException(struct _Unwind_Exception *e) { (void)e; abort(); }
void _Unwind_Resume(struct _Unwind_Exception *e) { (void)e; abort(); }
void _Unwind_DeleteException(struct _Unwind_Exception *e) { (void)e; }
