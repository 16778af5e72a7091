/* lwIP architecture header for the WebAssembly port (emcc, wasm32, little-endian).
 * Debian's lwIP source has no contrib/ ports, so this is ours. */
#ifndef NETCON_ARCH_CC_H
#define NETCON_ARCH_CC_H

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_NO_INTTYPES_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

#define LWIP_ERR_T int

/* The host (JavaScript) is told about failed assertions; it throws, and the instance is dead afterwards. */
void nc_assert_fail(const char *msg, int line, const char *file);
#define LWIP_PLATFORM_ASSERT(x) nc_assert_fail((x), __LINE__, __FILE__)
#define LWIP_PLATFORM_DIAG(x) do { } while (0)

uint32_t nc_rand(void);
#define LWIP_RAND() nc_rand()

/* Byte swapping maps to clang builtins (one instruction sequence in wasm). */
#define lwip_htons(x) ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32((u32_t)(x)))

#endif
