/*
 * fuzzUtil.h --
 *
 *	What the libFuzzer harnesses of this directory share: the failed-check
 *	report, the chunk-size generator and the choice of maxMessage. Each
 *	harness defines FUZZ_NAME (its name, for the report) before including
 *	this file.
 */

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * A failed check aborts with its line and text: libFuzzer then keeps the
 * input as a reproducer.
 */

#define CHECK(cond) do { \
	if (!(cond)) { \
	    fprintf(stderr, FUZZ_NAME ": check failed at line %d: %s\n", \
		    __LINE__, #cond); \
	    abort(); \
	} \
    } while (0)

/*
 * FuzzNext --
 *	A small deterministic generator (xorshift) for chunk sizes.
 */

static inline uint32_t
FuzzNext(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/*
 * FuzzMaxMessage --
 *	A maxMessage from a 16-bit selector: mostly small limits (1..64, or
 *	1..midMask+1), so that the limit is hit often, sometimes the server's
 *	default (1 MiB) and its largest allowed value.
 */

static inline size_t
FuzzMaxMessage(unsigned sel, unsigned midMask)
{
    switch (sel >> 14) {
    case 0:
    case 1:
	return 1 + (sel & 0x3F);
    case 2:
	return 1 + (sel & midMask);
    default:
	return (sel & 1) ? 0x7FFFFFFF : 1024 * 1024;
    }
}

#endif /* FUZZ_UTIL_H */
