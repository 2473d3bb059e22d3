/*
 * common.h - what every public header needs: the export macro and C++ guards.
 *
 * libteller is built with -fvisibility=hidden; only declarations marked TL_API
 * are exported, and tests/unit/test_symbols.c checks that every exported symbol
 * starts with "tl_".
 */
#ifndef TELLER_COMMON_H
#define TELLER_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define TL_API __attribute__((visibility("default")))
#define TL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TL_API
#define TL_PRINTF(fmt, args)
#endif

#ifdef __cplusplus
#define TL_BEGIN_DECLS extern "C" {
#define TL_END_DECLS }
#else
#define TL_BEGIN_DECLS
#define TL_END_DECLS
#endif

#define TL_VERSION "0.1.0"

#endif
