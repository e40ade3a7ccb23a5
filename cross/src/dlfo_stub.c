/* armv7 musl: Rust's std needs __aeabi_unwind_cpp_pr0 (referenced from
 * .ARM.exidx), so the do-nothing unwind_stub.c is not enough there; gcc's
 * libgcc_eh.a is used as libunwind.a instead. Debian builds it against glibc
 * and it calls _dl_find_object, which musl lacks. Returning -1 ("not found")
 * makes _Unwind_Find_FDE find nothing: backtraces come out empty, and with
 * panic = "abort" nothing unwinds. See ../README.md. */
int _dl_find_object(void *pc, void *result) { (void)pc; (void)result; return -1; }
