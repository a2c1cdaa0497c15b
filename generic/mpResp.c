/*
 * mpResp.c --
 *
 *	RESP commands and replies (see mpResp.h). Commands are arrays of
 *	bulk strings ("*N\r\n" then "$len\r\n<bytes>\r\n" per argument),
 *	written straight into the caller's buffer so that a message bound
 *	for Redis is copied once. Replies are parsed by hiredis's reader,
 *	which calls back here to build each value: the tree is ours, and an
 *	array announcing more than MP_RESP_MAX_ELEMENTS elements is refused
 *	before anything is allocated for it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "mpResp.h"

struct MpRespReader {
    redisReader *reader;
};

static void *		CreateString(const redisReadTask *task, char *str,
			    size_t len);
static void *		CreateArray(const redisReadTask *task, int count);
static void *		CreateInteger(const redisReadTask *task,
			    long long value);
static void *		CreateNil(const redisReadTask *task);
static void		FreeObject(void *obj);

static redisReplyObjectFunctions replyFunctions = {
    CreateString, CreateArray, CreateInteger, CreateNil, FreeObject
};

/*
 *----------------------------------------------------------------------
 *
 * MpRespArrayHeader, MpRespBulkHeader --
 *
 *	Write "*count\r\n" or "$len\r\n" to out (MP_RESP_HEADER_MAX bytes
 *	of room).
 *
 * Results:
 *	Bytes written.
 *
 * Side effects:
 *	Fills out.
 *
 *----------------------------------------------------------------------
 */

static size_t
Header(
    char *out,
    char kind,
    size_t n)
{
    char digits[24];
    size_t k = 0, i = 0;

    do {
	digits[k++] = (char) ('0' + n % 10);
	n /= 10;
    } while (n > 0);
    out[i++] = kind;
    while (k > 0) {
	out[i++] = digits[--k];
    }
    out[i++] = '\r';
    out[i++] = '\n';
    return i;
}

size_t
MpRespArrayHeader(
    char *out,
    size_t count)
{
    return Header(out, '*', count);
}

size_t
MpRespBulkHeader(
    char *out,
    size_t len)
{
    return Header(out, '$', len);
}

/*
 *----------------------------------------------------------------------
 *
 * MpRespCommandSize, MpRespWriteCommand --
 *
 *	The size of a command of argc arguments of the given lengths, and
 *	the command written to out (which has that much room).
 *
 * Results:
 *	Bytes (to be) written.
 *
 * Side effects:
 *	MpRespWriteCommand fills out.
 *
 *----------------------------------------------------------------------
 */

static size_t
Digits(
    size_t n)
{
    size_t d = 1;

    while (n >= 10) {
	n /= 10;
	d++;
    }
    return d;
}

size_t
MpRespCommandSize(
    int argc,
    const size_t *lens)
{
    size_t size = 3 + Digits((size_t) argc);
    int i;

    for (i = 0; i < argc; i++) {
	size += 3 + Digits(lens[i]) + lens[i] + 2;
    }
    return size;
}

size_t
MpRespWriteCommand(
    char *out,
    int argc,
    const char *const *argv,
    const size_t *lens)
{
    size_t n = MpRespArrayHeader(out, (size_t) argc);
    int i;

    for (i = 0; i < argc; i++) {
	n += MpRespBulkHeader(out + n, lens[i]);
	memcpy(out + n, argv[i], lens[i]);
	n += lens[i];
	out[n++] = '\r';
	out[n++] = '\n';
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * CreateString, CreateArray, CreateInteger, CreateNil, FreeObject --
 *
 *	hiredis's reader calls these to build each value it parsed; a
 *	value inside an array is stored in its parent's slot.
 *
 * Results:
 *	The new value, or NULL (the reader then fails with an
 *	out-of-memory error, which MpRespNext reports).
 *
 * Side effects:
 *	Allocates; FreeObject frees a value and what it holds.
 *
 *----------------------------------------------------------------------
 */

static void *
Attach(
    const redisReadTask *task,
    MpRespReply *r)
{
    if (r != NULL && task->parent != NULL) {
	MpRespReply *parent = (MpRespReply *) task->parent->obj;

	if (parent->type != MP_RESP_ARRAY || task->idx < 0
		|| (size_t) task->idx >= parent->count) {
	    FreeObject(r);
	    return NULL;
	}
	parent->elem[task->idx] = r;
    }
    return r;
}

static MpRespReply *
NewReply(
    int type)
{
    MpRespReply *r = (MpRespReply *) calloc(1, sizeof(MpRespReply));

    if (r != NULL) {
	r->type = type;
    }
    return r;
}

static void *
CreateString(
    const redisReadTask *task,
    char *str,
    size_t len)
{
    int type = task->type == REDIS_REPLY_ERROR ? MP_RESP_ERROR
	    : task->type == REDIS_REPLY_STATUS ? MP_RESP_STATUS
	    : MP_RESP_STRING;
    MpRespReply *r = NewReply(type);

    if (r == NULL) {
	return NULL;
    }
    r->str = (char *) malloc(len + 1);
    if (r->str == NULL) {
	free(r);
	return NULL;
    }
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return Attach(task, r);
}

static void *
CreateArray(
    const redisReadTask *task,
    int count)
{
    MpRespReply *r;

    if (count < 0 || count > MP_RESP_MAX_ELEMENTS) {
	return NULL;
    }
    r = NewReply(MP_RESP_ARRAY);
    if (r == NULL) {
	return NULL;
    }
    if (count > 0) {
	r->elem = (MpRespReply **) calloc((size_t) count,
		sizeof(MpRespReply *));
	if (r->elem == NULL) {
	    free(r);
	    return NULL;
	}
    }
    r->count = (size_t) count;
    return Attach(task, r);
}

static void *
CreateInteger(
    const redisReadTask *task,
    long long value)
{
    MpRespReply *r = NewReply(MP_RESP_INTEGER);

    if (r == NULL) {
	return NULL;
    }
    r->integer = value;
    return Attach(task, r);
}

static void *
CreateNil(
    const redisReadTask *task)
{
    return Attach(task, NewReply(MP_RESP_NIL));
}

static void
FreeObject(
    void *obj)
{
    MpRespReplyFree((MpRespReply *) obj);
}

/*
 *----------------------------------------------------------------------
 *
 * MpRespReplyFree --
 *
 *	Frees a reply and everything in it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees memory.
 *
 *----------------------------------------------------------------------
 */

void
MpRespReplyFree(
    MpRespReply *r)
{
    size_t i;

    if (r == NULL) {
	return;
    }
    for (i = 0; i < r->count; i++) {
	MpRespReplyFree(r->elem[i]);
    }
    free(r->elem);
    free(r->str);
    free(r);
}

/*
 *----------------------------------------------------------------------
 *
 * MpRespReaderNew, MpRespReaderFree --
 *
 *	Make and free a reply reader.
 *
 * Results:
 *	MpRespReaderNew: the reader, or NULL when memory is exhausted.
 *
 * Side effects:
 *	Allocates or frees.
 *
 *----------------------------------------------------------------------
 */

MpRespReader *
MpRespReaderNew(void)
{
    MpRespReader *r = (MpRespReader *) malloc(sizeof(MpRespReader));

    if (r == NULL) {
	return NULL;
    }
    r->reader = redisReaderCreateWithFunctions(&replyFunctions);
    if (r->reader == NULL) {
	free(r);
	return NULL;
    }
    return r;
}

void
MpRespReaderFree(
    MpRespReader *r)
{
    if (r != NULL) {
	redisReaderFree(r->reader);
	free(r);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpRespFeed, MpRespNext, MpRespBuffered, MpRespError --
 *
 *	Give the reader bytes received; take the next complete reply; how
 *	many received bytes it holds not yet parsed (the caller bounds
 *	this); what went wrong.
 *
 * Results:
 *	MpRespFeed: 0, or -1 (out of memory, or the reader failed before).
 *	MpRespNext: 1 with *replyPtr (the caller frees it), 0 when no
 *	complete reply is there yet, -1 on a protocol error (MpRespError
 *	says which; the reader is of no further use).
 *
 * Side effects:
 *	Allocates.
 *
 *----------------------------------------------------------------------
 */

int
MpRespFeed(
    MpRespReader *r,
    const char *buf,
    size_t len)
{
    return redisReaderFeed(r->reader, buf, len) == REDIS_OK ? 0 : -1;
}

int
MpRespNext(
    MpRespReader *r,
    MpRespReply **replyPtr)
{
    void *reply = NULL;

    *replyPtr = NULL;
    if (redisReaderGetReply(r->reader, &reply) != REDIS_OK) {
	return -1;
    }
    if (reply == NULL) {
	return 0;
    }
    *replyPtr = (MpRespReply *) reply;
    return 1;
}

size_t
MpRespBuffered(
    const MpRespReader *r)
{
    return r->reader->len - r->reader->pos;
}

const char *
MpRespError(
    const MpRespReader *r)
{
    return r->reader->err ? r->reader->errstr : "no error";
}
