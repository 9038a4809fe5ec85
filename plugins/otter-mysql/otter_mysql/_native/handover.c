/* Runs of raw transactions packed into one blob for the selector process's pipe (otter_mysql.handover).
 *
 * The selector process sent each transaction as plain tuples through pickle: ~30 objects per sysbench
 * OLTP transaction (its chunk tuples, their bitmaps and bodies, the position's fields) pickled in the
 * child, then unpickled, walked and freed in the runner. pack_txns writes a run of such transactions
 * into one bytes object, the objects they repeat (schema and table names, event types, binlog file
 * names, the decoders' keys) once in a names tuple; take_packed decodes the rows straight from the blob
 * into EventData, as expand_raw_at does from the tuples; unpack_txn gives one transaction back as the
 * plain tuple it was packed from, for the Python path (a shape seen first, a body that does not decode).
 *
 * pack_txns(raw, packed, items, max_size[, run]) -> list
 *     items, each run of packable ones replaced by (packed, (names, blob), 0); a transaction over max_size
 *     bytes stays plain (a copy more of a 16 MB row would cost memory, and it has few objects to save);
 *     a run binlog_scan packed already (scanrun.c, tagged `run`) becomes its (packed, (names, blob), 0)
 * take_packed(cls, descriptors, mid, tail, row_places, update_places, pos_cls, pos_descriptors, decoders,
 *             names, blob, offset, max_events, max_bytes) -> (events, position | None, size, offset, done)
 *     the transactions from offset on, up to the one that brings the events to max_events or the size to
 *     max_bytes, and before the first one the Python path must take (none taken: events empty)
 * unpack_txn(raw, names, blob, offset) -> (item, offset, done)
 *
 * A packable item is ((), (file, pos, gtid, timestamp), size, ((), chunks, False[, False])), its chunks
 * all (raw, schema, table, event type, time: float, (ident, kind, bitmap, bitmap2, body, file, log_pos)).
 * The blob, in the machine's byte order (both processes run on it; u32 fields index names):
 *   transaction: u32 chunks, u32 file, u64 pos, i64 gtid length (-1: None) + UTF-8, u64 timestamp, u64 size
 *   chunk:       u32 schema, u32 table, u32 event type, u32 key (ident, kind, bitmap, bitmap2), u32 file,
 *                f64 time, u64 log_pos, u64 body length + body
 */
#include "packwrite.h"

/* ---- packing (the selector process) ---------------------------------------------------------------- */

static int
exact_count(PyObject *v)
{ /* a non-negative int (not a bool) that fits 64 bits */
    if (!PyLong_CheckExact(v))
        return 0;
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    return !overflow && x >= 0;
}

static int
packable_chunk(PyObject *chunk, PyObject *raw_tag)
{
    if (!PyTuple_CheckExact(chunk) || PyTuple_GET_SIZE(chunk) != 6)
        return 0;
    PyObject *tag = PyTuple_GET_ITEM(chunk, 0), *payload = PyTuple_GET_ITEM(chunk, 5);
    if (!(tag == raw_tag || (PyUnicode_CheckExact(tag) && PyUnicode_Compare(tag, raw_tag) == 0)))
        return 0;
    if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(chunk, 1)) || !PyUnicode_CheckExact(PyTuple_GET_ITEM(chunk, 2)) ||
        !PyFloat_CheckExact(PyTuple_GET_ITEM(chunk, 4)))
        return 0;
    if (!PyTuple_CheckExact(payload) || PyTuple_GET_SIZE(payload) != 7)
        return 0;
    PyObject *bitmap2 = PyTuple_GET_ITEM(payload, 3), *file = PyTuple_GET_ITEM(payload, 5);
    return PyLong_CheckExact(PyTuple_GET_ITEM(payload, 0)) && PyUnicode_CheckExact(PyTuple_GET_ITEM(payload, 1)) &&
           PyBytes_CheckExact(PyTuple_GET_ITEM(payload, 2)) && (bitmap2 == Py_None || PyBytes_CheckExact(bitmap2)) &&
           PyBytes_CheckExact(PyTuple_GET_ITEM(payload, 4)) && (file == Py_None || PyUnicode_CheckExact(file)) &&
           exact_count(PyTuple_GET_ITEM(payload, 6));
}

/* Whether `item` is a plain raw transaction pack_txns can pack (see the top of this file). */
static int
packable(PyObject *item, PyObject *raw_tag, long long max_size)
{
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 4)
        return 0;
    if (PyLong_CheckExact(PyTuple_GET_ITEM(item, 2))) {
        int overflow = 0;
        long long size = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(item, 2), &overflow);
        if (overflow || size > max_size)
            return 0;
    }
    PyObject *events = PyTuple_GET_ITEM(item, 0), *at = PyTuple_GET_ITEM(item, 1), *raw = PyTuple_GET_ITEM(item, 3);
    if (!PyTuple_CheckExact(events) || PyTuple_GET_SIZE(events) != 0 || !exact_count(PyTuple_GET_ITEM(item, 2)))
        return 0;
    if (!PyTuple_CheckExact(at) || PyTuple_GET_SIZE(at) != 4)
        return 0;
    PyObject *file = PyTuple_GET_ITEM(at, 0), *gtid = PyTuple_GET_ITEM(at, 2);
    if (!(file == Py_None || PyUnicode_CheckExact(file)) || !exact_count(PyTuple_GET_ITEM(at, 1)) ||
        !(gtid == Py_None || PyUnicode_CheckExact(gtid)) || !exact_count(PyTuple_GET_ITEM(at, 3)))
        return 0;
    Py_ssize_t nraw = PyTuple_CheckExact(raw) ? PyTuple_GET_SIZE(raw) : 0;
    if (nraw != 3 && nraw != 4)
        return 0;
    PyObject *codecs = PyTuple_GET_ITEM(raw, 0), *chunks = PyTuple_GET_ITEM(raw, 1);
    if (!PyTuple_CheckExact(codecs) || PyTuple_GET_SIZE(codecs) != 0 || PyTuple_GET_ITEM(raw, 2) != Py_False ||
        (nraw == 4 && PyTuple_GET_ITEM(raw, 3) != Py_False))
        return 0; /* codecs to declare, a sent-back or resolved transaction: the plain way */
    if (!PyTuple_CheckExact(chunks) || PyTuple_GET_SIZE(chunks) == 0 || PyTuple_GET_SIZE(chunks) > (Py_ssize_t)UINT32_MAX)
        return 0;
    for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(chunks); c++)
        if (!packable_chunk(PyTuple_GET_ITEM(chunks, c), raw_tag))
            return 0;
    return 1;
}

typedef struct {
    Buf buf;
    PyObject *names;
    Role text, etypes, keys;
} Packer;

static int
put_count(Buf *b, PyObject *v)
{
    uint64_t x = (uint64_t)PyLong_AsUnsignedLongLong(v);
    if (x == (uint64_t)-1 && PyErr_Occurred())
        return -1;
    return PUT(b, x);
}

/* Writes a packable transaction (checked by `packable`). */
static int
pack_one(Packer *pk, PyObject *item)
{
    PyObject *at = PyTuple_GET_ITEM(item, 1), *chunks = PyTuple_GET_ITEM(PyTuple_GET_ITEM(item, 3), 1);
    PyObject *gtid = PyTuple_GET_ITEM(at, 2);
    uint32_t nchunks = (uint32_t)PyTuple_GET_SIZE(chunks);
    if (PUT(&pk->buf, nchunks) < 0 || put_name(&pk->buf, pk->names, &pk->text, PyTuple_GET_ITEM(at, 0)) < 0 ||
        put_count(&pk->buf, PyTuple_GET_ITEM(at, 1)) < 0)
        return -1;
    if (gtid == Py_None) {
        int64_t none = -1;
        if (PUT(&pk->buf, none) < 0)
            return -1;
    }
    else {
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(gtid, &len);
        int64_t n = len;
        if (text == NULL || PUT(&pk->buf, n) < 0 || buf_put(&pk->buf, text, len) < 0)
            return -1;
    }
    if (put_count(&pk->buf, PyTuple_GET_ITEM(at, 3)) < 0 || put_count(&pk->buf, PyTuple_GET_ITEM(item, 2)) < 0)
        return -1;
    for (uint32_t c = 0; c < nchunks; c++) {
        PyObject *chunk = PyTuple_GET_ITEM(chunks, c), *payload = PyTuple_GET_ITEM(chunk, 5);
        PyObject *key = PyTuple_GetSlice(payload, 0, 4);
        if (key == NULL)
            return -1;
        int failed = put_name(&pk->buf, pk->names, &pk->text, PyTuple_GET_ITEM(chunk, 1)) < 0 ||
                     put_name(&pk->buf, pk->names, &pk->text, PyTuple_GET_ITEM(chunk, 2)) < 0 ||
                     put_name(&pk->buf, pk->names, &pk->etypes, PyTuple_GET_ITEM(chunk, 3)) < 0 ||
                     put_name(&pk->buf, pk->names, &pk->keys, key) < 0;
        Py_DECREF(key); /* a new tuple each time: the keys' role finds it by value, not by identity */
        if (failed)
            return -1;
        double ts = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(chunk, 4));
        PyObject *body = PyTuple_GET_ITEM(payload, 4);
        uint64_t blen = (uint64_t)PyBytes_GET_SIZE(body);
        if (put_name(&pk->buf, pk->names, &pk->text, PyTuple_GET_ITEM(payload, 5)) < 0 || PUT(&pk->buf, ts) < 0 ||
            put_count(&pk->buf, PyTuple_GET_ITEM(payload, 6)) < 0 || PUT(&pk->buf, blen) < 0 ||
            buf_put(&pk->buf, PyBytes_AS_STRING(body), (Py_ssize_t)blen) < 0)
            return -1;
    }
    return 0;
}

static void
packer_clear(Packer *pk)
{
    PyMem_Free(pk->buf.d);
    Py_XDECREF(pk->names);
    Py_XDECREF(pk->text.index);
    Py_XDECREF(pk->etypes.index);
    Py_XDECREF(pk->keys.index);
    memset(pk, 0, sizeof(*pk));
}

/* The run of items[*i:] that `packable` takes, as (packed, (names, blob), 0); *i moves past it. */
static PyObject *
pack_run(PyObject *items, Py_ssize_t *i, PyObject *raw_tag, PyObject *packed_tag, long long max_size)
{
    Packer pk;
    memset(&pk, 0, sizeof(pk));
    if ((pk.names = PyList_New(0)) == NULL || (pk.text.index = PyDict_New()) == NULL ||
        (pk.etypes.index = PyDict_New()) == NULL || (pk.keys.index = PyDict_New()) == NULL)
        goto fail;
    pk.text.by_identity = pk.etypes.by_identity = 1;
    Py_ssize_t n = PyList_GET_SIZE(items);
    while (*i < n && packable(PyList_GET_ITEM(items, *i), raw_tag, max_size)) {
        if (pack_one(&pk, PyList_GET_ITEM(items, *i)) < 0)
            goto fail;
        (*i)++;
    }
    PyObject *names = PyList_AsTuple(pk.names);
    PyObject *blob = names ? PyBytes_FromStringAndSize(pk.buf.d, pk.buf.n) : NULL;
    PyObject *run = blob ? Py_BuildValue("(O(OO)i)", packed_tag, names, blob, 0) : NULL;
    Py_XDECREF(names);
    Py_XDECREF(blob);
    packer_clear(&pk);
    return run;
fail:
    packer_clear(&pk);
    return NULL;
}

/* A run binlog_scan packed (scanrun.c) as the selector queued it, ((), at, size, (run, names, blob, count)):
   its (packed, (names, blob), 0), or NULL (no exception) for any other item. */
static PyObject *
scanned_run(PyObject *item, PyObject *run_tag)
{
    if (run_tag == NULL || !PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 4)
        return NULL;
    PyObject *raw = PyTuple_GET_ITEM(item, 3);
    if (!PyTuple_CheckExact(raw) || PyTuple_GET_SIZE(raw) != 4 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(raw, 0)) ||
        PyUnicode_Compare(PyTuple_GET_ITEM(raw, 0), run_tag) != 0)
        return NULL;
    return PyTuple_Pack(2, PyTuple_GET_ITEM(raw, 1), PyTuple_GET_ITEM(raw, 2));
}

PyObject *
otter_pack_txns(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if ((nargs != 4 && nargs != 5) || !PyUnicode_CheckExact(args[0]) || !PyList_Check(args[2]) ||
        (nargs == 5 && !PyUnicode_CheckExact(args[4]))) {
        PyErr_SetString(PyExc_TypeError, "pack_txns(raw: str, packed, items: list, max_size: int[, run: str])");
        return NULL;
    }
    PyObject *run_tag = nargs == 5 ? args[4] : NULL;
    long long max_size = PyLong_AsLongLong(args[3]);
    if (max_size == -1 && PyErr_Occurred())
        return NULL;
    PyObject *items = args[2], *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    Py_ssize_t i = 0;
    while (i < PyList_GET_SIZE(items)) {
        PyObject *item = PyList_GET_ITEM(items, i), *add, *payload = scanned_run(item, run_tag);
        if (payload != NULL) {
            add = Py_BuildValue("(ONi)", args[1], payload, 0);
            i++;
            if (add == NULL)
                goto fail;
        }
        else if (PyErr_Occurred())
            goto fail;
        else if (packable(item, args[0], max_size)) {
            if ((add = pack_run(items, &i, args[0], args[1], max_size)) == NULL)
                goto fail;
        }
        else {
            add = Py_NewRef(item);
            i++;
        }
        int failed = PyList_Append(out, add);
        Py_DECREF(add);
        if (failed < 0)
            goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* ---- reading (the runner) -------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *d;
    Py_ssize_t n, p;
    PyObject *names;
} Reader;

static int
damaged(Reader *r)
{
    PyErr_Format(PyExc_ValueError, "a packed hand-over from the selector process is damaged at byte %zd", r->p);
    return -1;
}

static int
take(Reader *r, void *out, Py_ssize_t len)
{
    if (len < 0 || r->n - r->p < len)
        return damaged(r);
    memcpy(out, r->d + r->p, (size_t)len);
    r->p += len;
    return 0;
}

#define TAKE(r, v) take((r), &(v), (Py_ssize_t)sizeof(v))

static PyObject *
name_at(Reader *r, uint32_t idx)
{ /* borrowed */
    if ((Py_ssize_t)idx >= PyTuple_GET_SIZE(r->names)) {
        damaged(r);
        return NULL;
    }
    return PyTuple_GET_ITEM(r->names, idx);
}

typedef struct {
    uint32_t nchunks;
    PyObject *file;   /* borrowed from names */
    uint64_t pos, timestamp, size;
    PyObject *gtid;   /* new reference: str or None */
} TxHead;

static int
read_head(Reader *r, TxHead *h)
{
    uint32_t file;
    int64_t glen;
    h->gtid = NULL;
    if (TAKE(r, h->nchunks) < 0 || TAKE(r, file) < 0 || (h->file = name_at(r, file)) == NULL || TAKE(r, h->pos) < 0 ||
        TAKE(r, glen) < 0)
        return -1;
    if (glen < 0)
        h->gtid = Py_NewRef(Py_None);
    else {
        if (glen > r->n - r->p)
            return damaged(r);
        if ((h->gtid = PyUnicode_DecodeUTF8((const char *)r->d + r->p, (Py_ssize_t)glen, "strict")) == NULL)
            return -1;
        r->p += (Py_ssize_t)glen;
    }
    if (TAKE(r, h->timestamp) < 0 || TAKE(r, h->size) < 0) {
        Py_CLEAR(h->gtid);
        return -1;
    }
    return 0;
}

typedef struct {
    PyObject *schema, *table, *etype, *key, *file; /* borrowed from names */
    double ts;
    uint64_t log_pos;
    const unsigned char *body;
    Py_ssize_t blen;
    uint32_t key_idx;
} ChunkHead;

static int
read_chunk(Reader *r, ChunkHead *c)
{
    uint32_t schema, table, etype, file;
    uint64_t blen;
    if (TAKE(r, schema) < 0 || TAKE(r, table) < 0 || TAKE(r, etype) < 0 || TAKE(r, c->key_idx) < 0 ||
        TAKE(r, file) < 0 || TAKE(r, c->ts) < 0 || TAKE(r, c->log_pos) < 0 || TAKE(r, blen) < 0)
        return -1;
    if ((c->schema = name_at(r, schema)) == NULL || (c->table = name_at(r, table)) == NULL ||
        (c->etype = name_at(r, etype)) == NULL || (c->key = name_at(r, c->key_idx)) == NULL ||
        (c->file = name_at(r, file)) == NULL)
        return -1;
    if (!PyTuple_Check(c->key) || PyTuple_GET_SIZE(c->key) != 4 || blen > (uint64_t)(r->n - r->p))
        return damaged(r);
    c->body = r->d + r->p;
    c->blen = (Py_ssize_t)blen;
    r->p += c->blen;
    return 0;
}

static int
reader_open(Reader *r, PyObject *names, PyObject *blob, PyObject *offset)
{
    if (!PyTuple_Check(names) || !PyBytes_Check(blob)) {
        PyErr_SetString(PyExc_TypeError, "a packed run is (names: tuple, blob: bytes)");
        return -1;
    }
    r->names = names;
    r->d = (const unsigned char *)PyBytes_AS_STRING(blob);
    r->n = PyBytes_GET_SIZE(blob);
    r->p = PyLong_AsSsize_t(offset);
    if (r->p == -1 && PyErr_Occurred())
        return -1;
    if (r->p < 0 || r->p > r->n)
        return damaged(r);
    return 0;
}

/* The Position of a transaction, set through its member descriptors as expand_raw_at sets it. */
static PyObject *
make_position(PyTypeObject *pos_cls, PyObject *pos_descrs, TxHead *h)
{
    PyObject *vals[4] = {Py_NewRef(h->file), PyLong_FromUnsignedLongLong(h->pos), Py_NewRef(h->gtid),
                         PyLong_FromUnsignedLongLong(h->timestamp)};
    PyObject *position = NULL;
    if (vals[1] == NULL || vals[3] == NULL)
        goto done;
    if ((position = pos_cls->tp_alloc(pos_cls, 0)) == NULL)
        goto done;
    for (int i = 0; i < 4; i++) {
        PyObject *d = PyTuple_GET_ITEM(pos_descrs, i);
        if (Py_TYPE(d)->tp_descr_set(d, position, vals[i]) < 0) {
            Py_CLEAR(position);
            break;
        }
    }
done:
    for (int i = 0; i < 4; i++)
        Py_XDECREF(vals[i]);
    return position;
}

PyObject *
otter_take_packed(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 14 || !PyType_Check(args[0]) || !PyTuple_Check(args[1]) || !PyTuple_Check(args[2]) ||
        !PyTuple_Check(args[3]) || !PyTuple_Check(args[4]) || !PyTuple_Check(args[5]) || !PyType_Check(args[6]) ||
        !PyTuple_Check(args[7]) || PyTuple_GET_SIZE(args[7]) != 4 || !PyDict_Check(args[8])) {
        PyErr_SetString(PyExc_TypeError, "take_packed(cls, descriptors, mid, tail, row_places, update_places, "
                                         "pos_cls, pos_descriptors: 4 of them, decoders: dict, names, blob, offset, "
                                         "max_events, max_bytes)");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0], *pos_cls = (PyTypeObject *)args[6];
    PyObject *descrs = args[1], *mid = args[2], *tail = args[3], *pos_descrs = args[7], *decoders = args[8];
    for (int i = 0; i < 4; i++)
        if (Py_TYPE(PyTuple_GET_ITEM(pos_descrs, i))->tp_descr_set == NULL) {
            PyErr_Format(PyExc_TypeError, "position descriptor %d cannot set a value", i);
            return NULL;
        }
    Py_ssize_t nmid = PyTuple_GET_SIZE(mid), ntail = PyTuple_GET_SIZE(tail), nfields = 5 + nmid + ntail;
    Py_ssize_t row_at[OTTER_MAX_FIELDS], update_at[OTTER_MAX_FIELDS];
    if (nfields > OTTER_MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "too many fields");
        return NULL;
    }
    if (otter_check_layout(descrs, nfields, args[4], row_at) < 0 ||
        otter_check_layout(descrs, nfields, args[5], update_at) < 0)
        return NULL;
    Py_ssize_t max_events = PyLong_AsSsize_t(args[12]), max_bytes = PyLong_AsSsize_t(args[13]);
    if ((max_events == -1 || max_bytes == -1) && PyErr_Occurred())
        return NULL;
    Reader r;
    if (reader_open(&r, args[9], args[10], args[11]) < 0)
        return NULL;
    PyObject *template[OTTER_MAX_FIELDS];
    for (Py_ssize_t i = 0; i < nmid; i++)
        template[3 + i] = PyTuple_GET_ITEM(mid, i);
    for (Py_ssize_t i = 0; i < ntail; i++)
        template[5 + nmid + i] = PyTuple_GET_ITEM(tail, i);
    Py_ssize_t nnames = PyTuple_GET_SIZE(r.names);
    /* each key's decoder, looked up once per call (new references; Py_None: none compiled) */
    PyObject **found = PyMem_Calloc(nnames ? (size_t)nnames : 1, sizeof(PyObject *));
    PyObject *out = PyList_New(0), *last = NULL, *position = NULL, *ts = NULL, *rows = NULL, *result = NULL;
    TxHead h = {0};
    double ts_value = 0;
    uint64_t size = 0;
    if (found == NULL || out == NULL) {
        if (found == NULL)
            PyErr_NoMemory();
        goto done;
    }
    while (r.p < r.n) {
        Py_ssize_t start = r.p, built = PyList_GET_SIZE(out);
        int python = 0;
        if (read_head(&r, &h) < 0 || (position = make_position(pos_cls, pos_descrs, &h)) == NULL)
            goto done;
        Py_CLEAR(h.gtid);
        template[4 + nmid] = position;
        for (uint32_t c = 0; c < h.nchunks && !python; c++) {
            ChunkHead ch;
            if (read_chunk(&r, &ch) < 0)
                goto done;
            PyObject *decoder = found[ch.key_idx];
            if (decoder == NULL) {
                decoder = PyDict_GetItemWithError(decoders, ch.key);
                if (decoder == NULL && PyErr_Occurred())
                    goto done;
                decoder = found[ch.key_idx] =
                    Py_NewRef(decoder != NULL && Py_TYPE(decoder) == &otter_decoder_type ? decoder : Py_None);
            }
            if (decoder == Py_None) {
                python = 1; /* a shape seen first (the Python path makes its decoder) or a Python decoder */
                break;
            }
            rows = otter_decode_body((Decoder *)decoder, ch.body, ch.blen);
            if (rows == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_Exception))
                    goto done; /* KeyboardInterrupt, SystemExit: not a decoding error */
                PyErr_Clear();
                python = 1; /* decoded again there, and reported with the table and position */
                break;
            }
            if (!PyList_Check(rows)) {
                PyErr_SetString(PyExc_TypeError, "a row decoder returned no list");
                goto done;
            }
            if (ts == NULL || ch.ts != ts_value) {
                Py_XSETREF(ts, PyFloat_FromDouble(ch.ts));
                if (ts == NULL)
                    goto done;
                ts_value = ch.ts;
            }
            template[0] = ch.schema;
            template[1] = ch.table;
            template[2] = ch.etype;
            template[3 + nmid] = ts;
            int update = ((Decoder *)decoder)->update;
            if (otter_build_into(cls, descrs, template, rows, update ? update_at : row_at,
                                 PyTuple_GET_SIZE(update ? args[5] : args[4]), out) < 0)
                goto done;
            Py_CLEAR(rows);
        }
        if (python) { /* this transaction goes the Python way: nothing of it stays here */
            if (PyList_SetSlice(out, built, PyList_GET_SIZE(out), NULL) < 0)
                goto done;
            Py_CLEAR(position);
            r.p = start;
            break;
        }
        Py_XSETREF(last, position);
        position = NULL;
        size += h.size;
        if (PyList_GET_SIZE(out) >= max_events || size >= (uint64_t)max_bytes)
            break;
    }
    result = Py_BuildValue("(OOKnO)", out, last ? last : Py_None, (unsigned long long)size, r.p,
                           r.p >= r.n ? Py_True : Py_False);
done:
    if (found != NULL) {
        for (Py_ssize_t i = 0; i < nnames; i++)
            Py_XDECREF(found[i]);
        PyMem_Free(found);
    }
    Py_XDECREF(h.gtid);
    Py_XDECREF(out);
    Py_XDECREF(last);
    Py_XDECREF(position);
    Py_XDECREF(ts);
    Py_XDECREF(rows);
    return result;
}

/* One chunk as binlog_scan made it: (raw, schema, table, etype, time, (ident, kind, bitmap, bitmap2, body,
   file, log_pos)). */
static PyObject *
plain_chunk(PyObject *raw_tag, ChunkHead *c)
{
    PyObject *body = PyBytes_FromStringAndSize((const char *)c->body, c->blen);
    PyObject *log_pos = PyLong_FromUnsignedLongLong(c->log_pos), *ts = PyFloat_FromDouble(c->ts);
    PyObject *payload = NULL, *chunk = NULL;
    if (body && log_pos && ts) {
        PyObject *k = c->key;
        payload = PyTuple_Pack(7, PyTuple_GET_ITEM(k, 0), PyTuple_GET_ITEM(k, 1), PyTuple_GET_ITEM(k, 2),
                               PyTuple_GET_ITEM(k, 3), body, c->file, log_pos);
        if (payload)
            chunk = PyTuple_Pack(6, raw_tag, c->schema, c->table, c->etype, ts, payload);
    }
    Py_XDECREF(body);
    Py_XDECREF(log_pos);
    Py_XDECREF(ts);
    Py_XDECREF(payload);
    return chunk;
}

PyObject *
otter_unpack_txn(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "unpack_txn(raw, names, blob, offset)");
        return NULL;
    }
    Reader r;
    TxHead h = {0};
    if (reader_open(&r, args[1], args[2], args[3]) < 0)
        return NULL;
    if (r.p >= r.n)
        return damaged(&r), NULL;
    if (read_head(&r, &h) < 0)
        return NULL;
    PyObject *chunks = PyTuple_New(h.nchunks), *item = NULL;
    if (chunks == NULL)
        goto done;
    for (uint32_t c = 0; c < h.nchunks; c++) {
        ChunkHead ch;
        PyObject *chunk;
        if (read_chunk(&r, &ch) < 0 || (chunk = plain_chunk(args[0], &ch)) == NULL)
            goto done;
        PyTuple_SET_ITEM(chunks, c, chunk);
    }
    item = Py_BuildValue("(()(OKOK)K(()OOO))", h.file, (unsigned long long)h.pos, h.gtid,
                         (unsigned long long)h.timestamp, (unsigned long long)h.size, chunks, Py_False, Py_False);
done:
    Py_XDECREF(h.gtid);
    Py_XDECREF(chunks);
    if (item == NULL)
        return NULL;
    return Py_BuildValue("(NnO)", item, r.p, r.p >= r.n ? Py_True : Py_False);
}
