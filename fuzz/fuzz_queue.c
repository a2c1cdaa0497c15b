/*
 * fuzz_queue.c --
 *
 *	libFuzzer harness for the shared buffers and the ring-shaped output
 *	queue of generic/mpBuf.c (MpBufNew/Ref/Unref, MpQueuePush,
 *	MpQueueFillIov, MpQueueConsume, MpQueueClear), checked against a
 *	plain model. The input is a program: each operation is one byte
 *	(low 3 bits: which; the rest: argument) followed by an argument byte.
 *
 *	    0  new buffer (0..255 bytes, distinct content), pushed 1..3 times
 *	    1  push a buffer made earlier again (shared buffer, no copy)
 *	    2  consume up to N bytes (never more than queued)
 *	    3  fill an iovec array of 1..64 entries, compare with the model
 *	    4  simulated partial writev: fill, "write" some prefix, consume it
 *	    5  clear the queue
 *	    6  drop the harness's own reference to a buffer
 *	    7  consume everything
 *
 *	Checked after every operation: the queue's byte count equals the
 *	model's; the iovec description is exactly the model's unwritten
 *	bytes, oldest first; the entry count matches; every buffer's
 *	reference count equals the references the model knows of. Buffers
 *	freed too early show up as ASan use-after-free, ones never freed as
 *	LSan leaks.
 */

#include <string.h>
#include "mpBuf.h"

#define FUZZ_NAME "fuzz_queue"
#include "fuzzUtil.h"

#define MAX_BUFS 64
#define MAX_ITEMS 2048

typedef struct Held {
    MpBuf *buf;			/* NULL once the harness let go. */
    size_t queued;		/* Model: queue entries referencing it. */
    int own;			/* The harness still holds its reference. */
} Held;

typedef struct ModelItem {
    int buf;			/* Index into held[]. */
    size_t len, off;
} ModelItem;

static Held held[MAX_BUFS];
static int nHeld;
static ModelItem items[MAX_ITEMS + 4];
static size_t nItems, headItem;	/* Items [headItem, nItems) are queued. */

static size_t
ModelBytes(void)
{
    size_t i, total = 0;

    for (i = headItem; i < nItems; i++) {
	total += items[i].len - items[i].off;
    }
    return total;
}

/*
 * Model of MpQueueConsume: entries fully written are released; an empty
 * entry is released when consumption reaches it with bytes still to go.
 */

static void
ModelConsume(size_t n)
{
    while (n > 0 && headItem < nItems) {
	ModelItem *it = &items[headItem];
	size_t left = it->len - it->off;

	if (n < left) {
	    it->off += n;
	    return;
	}
	n -= left;
	held[it->buf].queued--;
	headItem++;
    }
}

static void
ModelClear(void)
{
    while (headItem < nItems) {
	held[items[headItem].buf].queued--;
	headItem++;
    }
}

/*
 * Compares the queue's iovec description (up to maxIov entries) with the
 * model.
 */

static void
CheckIov(const MpOutQueue *q, int maxIov)
{
    MpIovec iov[MP_IOV_MAX];
    int n = MpQueueFillIov(q, iov, maxIov), i;
    size_t want = nItems - headItem;

    if (want > (size_t) maxIov) {
	want = (size_t) maxIov;
    }
    CHECK(n >= 0 && (size_t) n == want);
    for (i = 0; i < n; i++) {
	const ModelItem *it = &items[headItem + (size_t) i];
	const MpBuf *b = held[it->buf].buf;

	CHECK(iov[i].iov_len == it->len - it->off);
	CHECK((const char *) iov[i].iov_base == b->data + it->off);
    }
}

static void
CheckAll(const MpOutQueue *q)
{
    int i;

    CHECK(q->bytes == ModelBytes());
    CHECK(q->count == nItems - headItem);
    CHECK(q->count <= q->cap || (q->cap == 0 && q->count == 0));
    for (i = 0; i < nHeld; i++) {
	if (held[i].own || held[i].queued) {
	    CHECK(held[i].buf->refCount == held[i].queued
		    + (size_t) held[i].own);
	}
    }
}

static void
Release(int i)
{
    if (held[i].own) {
	held[i].own = 0;
	MpBufUnref(held[i].buf);
    }
}

static void
Push(MpOutQueue *q, int b)
{
    if (nItems >= MAX_ITEMS) {
	return;
    }
    CHECK(MpQueuePush(q, held[b].buf) == 0);
    items[nItems].buf = b;
    items[nItems].len = held[b].buf->len;
    items[nItems].off = 0;
    nItems++;
    held[b].queued++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    MpOutQueue q;
    size_t i;
    int j;

    memset(&q, 0, sizeof(q));
    nHeld = 0;
    nItems = headItem = 0;

    for (i = 0; i + 1 < size; i += 2) {
	unsigned op = data[i] & 7, hi = data[i] >> 3, arg = data[i + 1];

	switch (op) {
	case 0:
	    if (nHeld < MAX_BUFS) {
		MpBuf *b = MpBufNew(arg);
		unsigned k;

		CHECK(b != NULL && b->refCount == 1 && b->len == arg);
		for (k = 0; k < arg; k++) {
		    b->data[k] = (char) (nHeld * 31 + k);
		}
		held[nHeld].buf = b;
		held[nHeld].queued = 0;
		held[nHeld].own = 1;
		nHeld++;
		for (k = 0; k <= hi % 3; k++) {
		    Push(&q, nHeld - 1);
		}
	    }
	    break;
	case 1:
	    if (nHeld > 0) {
		j = (int) (arg % (unsigned) nHeld);
		if (held[j].own) {	/* Only buffers still alive. */
		    Push(&q, j);
		}
	    }
	    break;
	case 2: {
	    size_t n = ((size_t) hi << 8 | arg) % (q.bytes + 1);

	    MpQueueConsume(&q, n);
	    ModelConsume(n);
	    break;
	}
	case 3:
	    CheckIov(&q, 1 + (int) (arg % MP_IOV_MAX));
	    break;
	case 4: {
	    MpIovec iov[MP_IOV_MAX];
	    int n = MpQueueFillIov(&q, iov, 1 + (int) (arg % MP_IOV_MAX));
	    size_t total = 0, w;

	    for (j = 0; j < n; j++) {
		total += iov[j].iov_len;
	    }
	    w = ((size_t) hi * 257 + arg) % (total + 1);
	    MpQueueConsume(&q, w);
	    ModelConsume(w);
	    break;
	}
	case 5:
	    MpQueueClear(&q);
	    ModelClear();
	    CHECK(q.items == NULL && q.count == 0 && q.bytes == 0);
	    break;
	case 6:
	    if (nHeld > 0) {
		Release((int) (arg % (unsigned) nHeld));
	    }
	    break;
	default:
	    MpQueueConsume(&q, q.bytes);
	    ModelConsume(ModelBytes());
	    CHECK(q.bytes == 0);
	    break;
	}
	CheckAll(&q);
	CheckIov(&q, MP_IOV_MAX);
    }
    MpQueueClear(&q);
    ModelClear();
    CheckAll(&q);
    for (j = 0; j < nHeld; j++) {
	Release(j);
    }
    return 0;
}
