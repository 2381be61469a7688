# Runs a command as on a kernel booted with ipv6.disable=1: a seccomp filter makes every
# socket(AF_INET6, ...) fail with EAFNOSUPPORT, the error such a kernel gives (no inet6 family
# registered), for the command and every process it forks (a --workers primary's workers too).
# IPv4 and every other syscall are untouched. Linux x86_64 or aarch64; python3 only (ctypes).
# Usage: python3 no-ipv6.py <command> [args...]
import ctypes, os, platform, struct, sys

# AUDIT_ARCH_* and __NR_socket of each architecture.
ARCHES = {'x86_64': (0xC000003E, 41), 'aarch64': (0xC00000B7, 198)}
AF_INET6, EAFNOSUPPORT = 10, 97
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
ALLOW, ERRNO, KILL = 0x7FFF0000, 0x00050000, 0x00000000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2

def op(code, jt, jf, k):
    return struct.pack('HBBI', code, jt, jf, k)

arch, nr_socket = ARCHES[platform.machine()]
program = b''.join([
    op(LD_W_ABS, 0, 0, 4), op(JEQ_K, 1, 0, arch), op(RET_K, 0, 0, KILL),  # seccomp_data.arch
    op(LD_W_ABS, 0, 0, 0), op(JEQ_K, 0, 3, nr_socket),                     # seccomp_data.nr
    op(LD_W_ABS, 0, 0, 16), op(JEQ_K, 0, 1, AF_INET6),                     # args[0] (low 32 bits)
    op(RET_K, 0, 0, ERRNO | EAFNOSUPPORT),
    op(RET_K, 0, 0, ALLOW),
])

class SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]

buffer = ctypes.create_string_buffer(program)
fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
    sys.exit('no-ipv6.py: cannot install the seccomp filter: errno %d' % ctypes.get_errno())
os.execvp(sys.argv[1], sys.argv[1:])
