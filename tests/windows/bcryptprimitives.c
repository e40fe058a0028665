/*
 * Test support for running Skranke's Windows build under Wine 8. Never
 * shipped: scripts/windows.sh builds it into the Wine test folder only.
 *
 * Rust's standard library (and getrandom) take random bytes from
 * ProcessPrng in bcryptprimitives.dll, which Windows 10 and later have and
 * Wine 8 does not, so a Rust program does not even start there. This
 * stand-in answers ProcessPrng from advapi32's RtlGenRandom (exported as
 * SystemFunction036), which Wine implements over the host's random source.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a 32-bit length; ProcessPrng a size_t. */
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
